/**
 * Connecting to a node that may still be starting: a node started a moment ago (by hand, or
 * by a script) listens about a second later, and until then refuses connections. A refusal is
 * tried again until `waitMs` has passed; any other failure (a timeout, an unknown host) is
 * not, as waiting would not change it.
 */
import {poll} from '../util/time.js'
import {BrokerClient, ClientError} from './broker-client.js'

const RETRY_EVERY_MS = 100

export async function connectWhenListening(host: string, port: number, waitMs: number): Promise<BrokerClient> {
  const client = await poll(
    async () => {
      try {
        return await BrokerClient.connect(host, port)
      } catch (error) {
        if (error instanceof ClientError && error.errno === 'ECONNREFUSED') return undefined
        throw error
      }
    },
    {timeoutMs: waitMs, intervalMs: RETRY_EVERY_MS},
  )
  if (client) return client
  const waited = waitMs > 0 ? ` for ${waitMs / 1000} s (--connect-timeout waits longer)` : ''
  throw new ClientError('CONNECTION', `no pad-cli node answered at ${host}:${port}: connection refused${waited}; is a node running there?`, 'ECONNREFUSED')
}
