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
  return unframe(payload, 'forwarded publish')
}

/** Both ways, a frame is the request id (4 bytes, little-endian) and then at least one byte of data. */
function unframe(payload: Buffer, what: string): {requestId: number; data: Buffer} {
  if (payload.length < 5) throw new Error(`${what} is too short`)
  return {requestId: payload.readUInt32LE(0), data: payload.subarray(4)}
}

export function encodeForwardResult(requestId: number, outcome: ForwardOutcome): Buffer {
  return encodeForward(requestId, Buffer.from(JSON.stringify(outcome)))
}

/** Throws a plain Error unless the payload is a request id and an outcome of the right shape. */
export function decodeForwardResult(payload: Buffer): {requestId: number; outcome: ForwardOutcome} {
  const {requestId, data} = unframe(payload, 'forward result')
  let raw: unknown
  try {
    raw = JSON.parse(data.toString('utf8'))
  } catch {
    throw new Error('forward result is not JSON')
  }
  return {requestId, outcome: checkedOutcome(raw)}
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
const isOptionalString = (value: unknown): value is string | undefined => value === undefined || typeof value === 'string'

function checkedOutcome(raw: unknown): ForwardOutcome {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('forward result is not an object')
  const r = raw as Record<string, unknown>
  if (r.ok === true) {
    if (typeof r.topic !== 'string' || !isCount(r.offset) || !isCount(r.raftIndex) || !isCount(r.term)) {
      throw new Error('forward result lacks a well-typed topic, offset, raftIndex and term')
    }
    if (r.duplicate !== undefined && typeof r.duplicate !== 'boolean') throw new Error('forward result has a duplicate flag that is not a boolean')
    return {ok: true, topic: r.topic, offset: r.offset, raftIndex: r.raftIndex, term: r.term, duplicate: r.duplicate ?? false}
  }
  if (r.ok !== false || typeof r.code !== 'string' || !isOptionalString(r.message)) throw new Error('forward result is neither a success nor a coded failure')
  return {ok: false, code: r.code, message: r.message}
}
