/**
 * A follower forwards publishes to the leader over the Raft link; the leader answers when
 * the entry is applied. Both frames are small: a request id, then the encoded publish, or
 * the result as JSON.
 */

export interface ForwardOutcome {
  ok: boolean
  topic?: string
  offset?: number
  raftIndex?: number
  term?: number
  duplicate?: boolean
  code?: string
  message?: string
}

export function encodeForward(requestId: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + data.byteLength)
  out.writeUInt32LE(requestId, 0)
  out.set(data, 4)
  return out
}

export function decodeForward(payload: Buffer): {requestId: number; data: Buffer} {
  if (payload.length < 5) throw new Error('forwarded publish is too short')
  return {requestId: payload.readUInt32LE(0), data: payload.subarray(4)}
}

export function encodeForwardResult(requestId: number, outcome: ForwardOutcome): Buffer {
  const json = Buffer.from(JSON.stringify(outcome))
  const out = Buffer.allocUnsafe(4 + json.length)
  out.writeUInt32LE(requestId, 0)
  json.copy(out, 4)
  return out
}

export function decodeForwardResult(payload: Buffer): {requestId: number; outcome: ForwardOutcome} {
  if (payload.length < 5) throw new Error('forward result is too short')
  return {requestId: payload.readUInt32LE(0), outcome: JSON.parse(payload.toString('utf8', 4)) as ForwardOutcome}
}
