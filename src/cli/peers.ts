/** `--peers 127.0.0.1:6000,127.0.0.1:6001,...`: every member's Raft address. */
import type {PeerAddress} from '../transport/raft-transport.js'

export function parsePeers(text: string): PeerAddress[] {
  const peers = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((item) => {
      const match = /^(.+):(\d{1,5})$/.exec(item)
      const port = match ? Number(match[2]) : NaN
      if (!match || port < 1 || port > 65535) throw new Error(`"${item}" is not a host:port Raft address`)
      return {host: match[1], port}
    })
  if (peers.length === 0) throw new Error('--peers needs at least one host:port')
  const seen = new Set(peers.map((p) => `${p.host}:${p.port}`))
  if (seen.size !== peers.length) throw new Error('--peers lists the same address twice')
  return peers
}
