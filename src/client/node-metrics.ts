/** One figure of a node's Prometheus page (GET /metrics), for programs that measure nodes. */
import {getText, type NodeAddress} from './node-http-client.js'

/** The value of the sample named `name` (no labels) in Prometheus text, or null when it is absent or not a number. */
export function metricValue(text: string, name: string): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name} `)) continue
    const value = Number(line.slice(name.length + 1).trim())
    return Number.isFinite(value) ? value : null
  }
  return null
}

/** GET /metrics and the value of one sample; null when the node does not report it (an older build). */
export async function readMetric(node: NodeAddress, name: string, timeoutMs = 2000): Promise<number | null> {
  return metricValue(await getText(node, '/metrics', timeoutMs), name)
}
