/**
 * A publish as it travels through the replicated log: the data of one log entry.
 *
 * The encoding is binary and compact because every publish is written to the log on every
 * node and sent over the Raft link: JSON would cost a parse per entry per node.
 *
 *   u8 version (1) | f64 timestamp ms | u8 format | u16 topic length | topic (utf8)
 *   | u16 id length | id (utf8) | body (utf8, the rest)
 */
import {FORMATS, type Format} from './formats.js'

export interface PublishCommand {
  topic: string
  format: Format
  body: string
  /** The publisher's dedup id, if it gave one (never empty: an empty id is no id). */
  id: string | null
  /** Milliseconds since the epoch, chosen once by the node that proposed the entry. */
  timestamp: number
}

const VERSION = 1
const HEADER = 1 + 8 + 1 + 2

export function encodePublish(command: PublishCommand): Uint8Array {
  // Length 0 on the wire means "no id", so an empty id could not come back as itself.
  if (command.id === '') throw new Error('a publish command id must not be empty (use null for no id)')
  const topicLength = Buffer.byteLength(command.topic)
  const idLength = command.id === null ? 0 : Buffer.byteLength(command.id)
  const bodyLength = Buffer.byteLength(command.body)
  const buffer = Buffer.allocUnsafe(HEADER + topicLength + 2 + idLength + bodyLength)
  let at = buffer.writeUInt8(VERSION, 0)
  at = buffer.writeDoubleLE(command.timestamp, at)
  at = buffer.writeUInt8(FORMATS.indexOf(command.format), at)
  at = buffer.writeUInt16LE(topicLength, at)
  at += buffer.write(command.topic, at)
  at = buffer.writeUInt16LE(idLength, at)
  if (command.id !== null) at += buffer.write(command.id, at)
  buffer.write(command.body, at)
  return buffer
}

export function decodePublish(data: Uint8Array): PublishCommand {
  const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (buffer.length < HEADER + 2 || buffer.readUInt8(0) !== VERSION) {
    throw new Error(`not a publish command (version ${buffer.length > 0 ? buffer.readUInt8(0) : 'none'})`)
  }
  const timestamp = buffer.readDoubleLE(1)
  const format = FORMATS[buffer.readUInt8(9)]
  if (format === undefined) throw new Error('publish command has an unknown format')
  const topicLength = buffer.readUInt16LE(10)
  if (topicLength === 0) throw new Error('publish command has no topic')
  let at = HEADER
  if (at + topicLength + 2 > buffer.length) throw new Error('publish command is truncated (topic)')
  const topic = buffer.toString('utf8', at, at + topicLength)
  at += topicLength
  const idLength = buffer.readUInt16LE(at)
  at += 2
  if (at + idLength > buffer.length) throw new Error('publish command is truncated (id)')
  const id = idLength === 0 ? null : buffer.toString('utf8', at, at + idLength)
  at += idLength
  return {topic, format, body: buffer.toString('utf8', at), id, timestamp}
}
