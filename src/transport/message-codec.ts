/**
 * Raft messages on the wire: a compact binary form. Entry data is copied once into the
 * frame and sliced (not copied) out of it on the other side.
 *
 *   u8 type | u16 from | u16 to | u32 term | u8 flags | [f64 logTerm] [f64 index] [f64 commit]
 *   [f64 rejectHint] [f64 hintTerm] | [u32 count, then per entry: f64 index, u32 term, u8 type,
 *   u32 length, data]
 *
 * Optional fields are present when their flag bit is set, so a heartbeat is 14 bytes.
 *
 * Encoding refuses a value the format cannot carry (a term past u32, say) with a clear error
 * instead of writing something else; decoding any bytes either yields a message or throws a
 * plain Error that says what was wrong. Whether the values make sense is message-bounds.ts's
 * question.
 */
import type {Entry, EntryType, Message, MessageType} from '../raft/index.js'

const TYPES: MessageType[] = ['app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat', 'heartbeatResp', 'timeoutNow']
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i]))
const ENTRY_TYPES: EntryType[] = ['normal', 'noop', 'conf']
const ENTRY_TYPE_CODE = new Map(ENTRY_TYPES.map((t, i) => [t, i]))

const F_REJECT = 1
const F_TRANSFER = 2
const F_LOG_TERM = 4
const F_INDEX = 8
const F_COMMIT = 16
const F_REJECT_HINT = 32
const F_HINT_TERM = 64
const F_ENTRIES = 128

const OPTIONAL = [
  [F_LOG_TERM, 'logTerm'],
  [F_INDEX, 'index'],
  [F_COMMIT, 'commit'],
  [F_REJECT_HINT, 'rejectHint'],
  [F_HINT_TERM, 'hintTerm'],
] as const

const U16 = 0xffff
const U32 = 0xffff_ffff

class EncodeError extends Error {}

function checkUnsigned(what: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new EncodeError(`cannot encode a Raft message with ${what} ${value}: outside 0..${max}`)
}

export function encodeMessage(message: Message): Buffer {
  checkUnsigned('from', message.from, U16)
  checkUnsigned('to', message.to, U16)
  checkUnsigned('term', message.term, U32)
  const typeCode = TYPE_CODE.get(message.type)
  if (typeCode === undefined) throw new EncodeError(`cannot encode a Raft message of type ${String(message.type)}`)
  let flags = 0
  let size = 10
  if (message.reject) flags |= F_REJECT
  if (message.transfer) flags |= F_TRANSFER
  for (const [bit, key] of OPTIONAL) {
    if (message[key] !== undefined) {
      flags |= bit
      size += 8
    }
  }
  const entries = message.entries
  if (entries !== undefined) {
    flags |= F_ENTRIES
    size += 4
    for (const entry of entries) {
      checkUnsigned('entry term', entry.term, U32)
      if (!ENTRY_TYPE_CODE.has(entry.type)) throw new EncodeError(`cannot encode an entry of type ${String(entry.type)}`)
      size += 17 + entry.data.byteLength
    }
  }
  const out = Buffer.allocUnsafe(size)
  out.writeUInt8(typeCode, 0)
  out.writeUInt16LE(message.from, 1)
  out.writeUInt16LE(message.to, 3)
  out.writeUInt32LE(message.term, 5)
  out.writeUInt8(flags, 9)
  let at = 10
  for (const [, key] of OPTIONAL) {
    const value = message[key]
    if (value !== undefined) at = out.writeDoubleLE(value, at)
  }
  if (entries !== undefined) {
    at = out.writeUInt32LE(entries.length, at)
    for (const entry of entries) {
      at = out.writeDoubleLE(entry.index, at)
      at = out.writeUInt32LE(entry.term, at)
      at = out.writeUInt8(ENTRY_TYPE_CODE.get(entry.type) as number, at)
      at = out.writeUInt32LE(entry.data.byteLength, at)
      out.set(entry.data, at)
      at += entry.data.byteLength
    }
  }
  return out
}

function truncated(what: string): Error {
  return new Error(`Raft message is truncated (${what})`)
}

export function decodeMessage(data: Buffer): Message {
  if (data.length < 10) throw new Error(`Raft message of ${data.length} bytes is too short`)
  const type = TYPES[data.readUInt8(0)]
  if (type === undefined) throw new Error(`unknown Raft message type ${data.readUInt8(0)}`)
  const message: Message = {type, from: data.readUInt16LE(1), to: data.readUInt16LE(3), term: data.readUInt32LE(5)}
  const flags = data.readUInt8(9)
  if (flags & F_REJECT) message.reject = true
  if (flags & F_TRANSFER) message.transfer = true
  let at = 10
  for (const [bit, key] of OPTIONAL) {
    if (flags & bit) {
      if (data.length - at < 8) throw truncated(key)
      message[key] = data.readDoubleLE(at)
      at += 8
    }
  }
  if (flags & F_ENTRIES) {
    if (data.length - at < 4) throw truncated('entry count')
    const count = data.readUInt32LE(at)
    at += 4
    // Every entry takes at least its header: a count the bytes cannot hold is refused before allocating for it.
    if (count > (data.length - at) / 17) throw new Error(`Raft message claims ${count} entries in ${data.length - at} bytes`)
    const entries: Entry[] = new Array(count)
    for (let i = 0; i < count; i++) {
      if (data.length - at < 17) throw truncated('entry header')
      const index = data.readDoubleLE(at)
      const term = data.readUInt32LE(at + 8)
      const entryType = ENTRY_TYPES[data.readUInt8(at + 12)]
      const length = data.readUInt32LE(at + 13)
      at += 17
      if (entryType === undefined || length > data.length - at) throw new Error('malformed entry in Raft message')
      entries[i] = {index, term, type: entryType, data: data.subarray(at, at + length)}
      at += length
    }
    message.entries = entries
  }
  if (at !== data.length) throw new Error(`Raft message has ${data.length - at} trailing bytes`)
  return message
}
