/**
 * Whether a node reports its data corrupt: its GET /status says `corrupt` with what it found
 * (src/broker/corrupt-node.ts). Read field by field: a node's answer is checked, not trusted.
 */
import type {CorruptInfo} from '../api/node-http.js'
import {requestJson, type NodeAddress} from './node-http-client.js'

const MAX_TEXT = 4096

/** What the node found, or null when it serves normally; throws when it does not answer. */
export async function corruptReport(node: NodeAddress, timeoutMs: number): Promise<CorruptInfo | null> {
  const answer = await requestJson(node, 'GET', '/status', {timeoutMs})
  return decodeCorrupt(answer.json)
}

/** The `corrupt` part of a /status or /health answer, or null when it says nothing of the kind. */
export function decodeCorrupt(json: Record<string, unknown>): CorruptInfo | null {
  if (json.status !== 'corrupt' && json.state !== 'corrupt') return null
  const raw = typeof json.corrupt === 'object' && json.corrupt !== null ? (json.corrupt as Record<string, unknown>) : {}
  const text = (value: unknown, fallback: string): string => (typeof value === 'string' ? value.slice(0, MAX_TEXT) : fallback)
  const index = raw.node_index
  return {
    file: text(raw.file, 'unknown file'),
    reason: text(raw.reason, 'no reason given'),
    detected_at: text(raw.detected_at, ''),
    node_index: typeof index === 'number' && Number.isInteger(index) && index >= 0 ? index : null,
  }
}
