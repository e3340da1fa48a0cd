/**
 * Whose process is at the other end of a loopback TCP connection: Linux lists every TCP socket
 * with its owner's uid in /proc/net/tcp (identd's trick). GET /api/token hands the cluster
 * token only to a browser of the user who runs the supervisor, as the token file (mode 0600)
 * does; another local user can still load the page, but not act.
 */
import fs from 'node:fs'
import type net from 'node:net'

/** The uid owning the socket connected to us from `socket.remotePort`; null where there is no /proc/net/tcp to ask (not Linux). */
export function peerUid(socket: net.Socket): number | null {
  const {remotePort, localPort, remoteAddress} = socket
  let table: string
  try {
    table = fs.readFileSync('/proc/net/tcp', 'utf8')
  } catch {
    return null
  }
  // The console listens on 127.0.0.1 only, so its peers are IPv4 loopback sockets.
  if (remotePort === undefined || localPort === undefined || (remoteAddress !== '127.0.0.1' && remoteAddress !== '::ffff:127.0.0.1')) return NOBODY
  // Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid ...; addresses are hex IP:port.
  const peer = `0100007F:${hexPort(remotePort)}`
  const us = `0100007F:${hexPort(localPort)}`
  for (const line of table.split('\n')) {
    const columns = line.trim().split(/\s+/)
    if (columns[1] === peer && columns[2] === us) {
      const uid = Number(columns[7])
      return Number.isInteger(uid) ? uid : NOBODY
    }
  }
  // The table was there but the connection not in it: no one we can vouch for.
  return NOBODY
}

/** A uid no process has: what an unaccounted connection counts as. */
const NOBODY = -1

function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0')
}
