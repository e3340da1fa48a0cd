/**
 * The snapshot stream on the Raft link, typed in one place. A leader streams the state
 * machine's rows to a follower that needs entries it has compacted:
 *
 *   begin  (stream id, leader term, snapshot index/term/membership)
 *   have   (follower -> leader: stream id, the applied index whose rows it already holds)
 *   plan   (stream id, the base: only rows of a delta table with a key above it follow, 0 for
 *           all of them)
 *   chunk  (stream id, sequence number from 0, table name, rows, SHA-256 of the chunk)
 *   end    (stream id, chunks sent, the rows sent of every state table, SHA-256 over every
 *           chunk's digest in order; counted while streaming, so the leader reads no row twice)
 *   ack    (follower -> leader: stream id, the sequence number acknowledged, ok or why not;
 *           the end is acknowledged with sequence number = chunk count)
 *
 * Layouts (little-endian):
 *   begin: u32 stream | u32 leaderTerm | f64 index | u32 term | u16 v, v x u16 voter |
 *          u16 l, l x u16 learner
 *   have:  u32 stream | f64 applied
 *   plan:  u32 stream | f64 base
 *   chunk: u32 stream | u32 seq | u8 len, table | u32 rows | u16 columns | cells | 32 B digest
 *          cell: u8 tag (0 null, 1 f64, 2 UTF-8 text, 3 blob) [f64 | u32 len, bytes]
 *   end:   u32 stream | u32 chunks | u8 t, t x (u8 len, name, f64 rows) | 32 B digest
 *   ack:   u32 stream | u32 seq | u8 ok | u16 len, reason
 *
 * Decoding any bytes either yields a frame or throws a plain Error saying what was wrong; a
 * chunk whose digest does not match decodes with `intact: false` and no rows, so the receiver
 * can refuse it for what it is. Whether the values make sense (the right leader, term, order,
 * table, base) is the receiver's question.
 */
import {createHash} from 'node:crypto'

import type {Membership} from '../raft/index.js'
import {FRAME_KIND, type FrameKind} from './frames.js'

/** A value of a row as SQLite stores it. */
export type CellValue = number | string | Uint8Array | null

export interface SnapshotBegin {
  kind: 'begin'
  stream: number
  leaderTerm: number
  index: number
  term: number
  /** The configuration as of `index`. */
  membership: Membership
}

/** The follower's answer to a begin: the rows of every entry up to `applied` are in its state already. */
export interface SnapshotHave {
  kind: 'have'
  stream: number
  applied: number
}

/** What the leader streams, once it knows what the follower has. */
export interface SnapshotPlan {
  kind: 'plan'
  stream: number
  /** Rows of a delta table (state-tables.ts) come only with a key above this; 0: every row. */
  base: number
}

export interface SnapshotChunk {
  kind: 'chunk'
  stream: number
  seq: number
  table: string
  rows: CellValue[][]
  /** SHA-256 of the chunk as sent. */
  digest: Buffer
  /** False when the bytes do not match their digest (then `rows` is empty). */
  intact: boolean
}

export interface SnapshotEnd {
  kind: 'end'
  stream: number
  chunks: number
  /** Rows sent, per state table. */
  tables: {name: string; rows: number}[]
  /** SHA-256 over every chunk's digest, in order. */
  digest: Buffer
}

export interface SnapshotAck {
  kind: 'ack'
  stream: number
  seq: number
  ok: boolean
  reason?: string
}

export type SnapshotFrame = SnapshotBegin | SnapshotHave | SnapshotPlan | SnapshotChunk | SnapshotEnd | SnapshotAck

/** Chunks aim at this size; one row larger than it travels alone. */
export const SNAPSHOT_CHUNK_TARGET_BYTES = 256 * 1024
/** No chunk may be larger (a bound for the decoder, far above any row a node accepts). */
export const MAX_SNAPSHOT_CHUNK_BYTES = 32 * 1024 * 1024
const MAX_NAME_BYTES = 64
const MAX_PEERS = 64
const MAX_TABLES = 64
const MAX_REASON_BYTES = 200
const DIGEST_BYTES = 32
const U32 = 0xffff_ffff

class Writer {
  private buffer: Buffer
  at = 0
  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size)
  }
  private room(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + bytes))
    this.buffer.copy(bigger, 0, 0, this.at)
    this.buffer = bigger
  }
  u8(v: number): void {
    this.room(1)
    this.at = this.buffer.writeUInt8(v, this.at)
  }
  u16(v: number): void {
    this.room(2)
    this.at = this.buffer.writeUInt16LE(v, this.at)
  }
  u32(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > U32) throw new Error(`cannot encode ${v} as a u32`)
    this.room(4)
    this.at = this.buffer.writeUInt32LE(v, this.at)
  }
  f64(v: number): void {
    this.room(8)
    this.at = this.buffer.writeDoubleLE(v, this.at)
  }
  /** A whole number >= 0, as an f64 (what Reader.count accepts). */
  count(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`cannot encode ${v} as a count`)
    this.f64(v)
  }
  bytes(v: Uint8Array): void {
    this.room(v.byteLength)
    this.buffer.set(v, this.at)
    this.at += v.byteLength
  }
  /** u8 length then UTF-8, at most `max` (< 256) bytes. */
  shortText(text: string, max: number): void {
    const encoded = Buffer.from(text, 'utf8')
    if (encoded.length > max) throw new Error(`cannot encode a name of ${encoded.length} bytes (at most ${max})`)
    this.u8(encoded.length)
    this.bytes(encoded)
  }
  done(): Buffer {
    return this.buffer.subarray(0, this.at)
  }
}

class Reader {
  at = 0
  constructor(
    private readonly data: Buffer,
    private readonly what: string,
    private readonly end = data.length,
  ) {}
  private need(bytes: number, field: string): void {
    if (this.end - this.at < bytes) throw new Error(`snapshot ${this.what} is truncated (${field})`)
  }
  u8(field: string): number {
    this.need(1, field)
    return this.data.readUInt8(this.at++)
  }
  u16(field: string): number {
    this.need(2, field)
    const v = this.data.readUInt16LE(this.at)
    this.at += 2
    return v
  }
  u32(field: string): number {
    this.need(4, field)
    const v = this.data.readUInt32LE(this.at)
    this.at += 4
    return v
  }
  f64(field: string): number {
    this.need(8, field)
    const v = this.data.readDoubleLE(this.at)
    this.at += 8
    return v
  }
  count(field: string): number {
    const v = this.f64(field)
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`snapshot ${this.what}: ${field} ${v} is not a count`)
    return v
  }
  bytes(length: number, field: string): Buffer {
    this.need(length, field)
    const v = this.data.subarray(this.at, this.at + length)
    this.at += length
    return v
  }
  shortText(field: string, max: number): string {
    const length = this.u8(field)
    if (length > max) throw new Error(`snapshot ${this.what}: ${field} of ${length} bytes (at most ${max})`)
    return this.bytes(length, field).toString('utf8')
  }
  remaining(): number {
    return this.end - this.at
  }
  finish(): void {
    if (this.at !== this.end) throw new Error(`snapshot ${this.what} has ${this.end - this.at} trailing bytes`)
  }
}

export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest()
}

/** The running digest of a stream: SHA-256 over each chunk's digest, in order (the end frame's). */
export class StreamDigest {
  private readonly hash = createHash('sha256')
  add(chunkDigest: Uint8Array): void {
    this.hash.update(chunkDigest)
  }
  digest(): Buffer {
    return this.hash.digest()
  }
}

export function encodeSnapshotFrame(frame: SnapshotFrame): Buffer {
  switch (frame.kind) {
    case 'begin': {
      const w = new Writer(64)
      w.u32(frame.stream)
      w.u32(frame.leaderTerm)
      w.count(frame.index)
      w.u32(frame.term)
      const {voters, learners} = frame.membership
      if (voters.length + learners.length > MAX_PEERS) throw new Error(`cannot encode ${voters.length + learners.length} members`)
      for (const list of [voters, learners]) {
        w.u16(list.length)
        for (const peer of list) w.u16(peer)
      }
      return w.done()
    }
    case 'have':
    case 'plan': {
      // One index each: what the follower holds, what the leader leaves out.
      const w = new Writer(12)
      w.u32(frame.stream)
      w.count(frame.kind === 'have' ? frame.applied : frame.base)
      return w.done()
    }
    case 'chunk':
      return encodeChunk(frame.stream, frame.seq, frame.table, frame.rows).payload
    case 'end': {
      const w = new Writer(64 + DIGEST_BYTES)
      w.u32(frame.stream)
      w.u32(frame.chunks)
      if (frame.tables.length > MAX_TABLES) throw new Error(`cannot encode ${frame.tables.length} tables`)
      w.u8(frame.tables.length)
      for (const table of frame.tables) {
        w.shortText(table.name, MAX_NAME_BYTES)
        w.count(table.rows)
      }
      w.bytes(frame.digest)
      return w.done()
    }
    case 'ack': {
      const w = new Writer(16)
      w.u32(frame.stream)
      w.u32(frame.seq)
      w.u8(frame.ok ? 1 : 0)
      // A UTF-16 unit takes at most 3 bytes in UTF-8: the cut reason always fits.
      w.shortText((frame.reason ?? '').slice(0, MAX_REASON_BYTES / 3), MAX_REASON_BYTES)
      return w.done()
    }
  }
}

/** A chunk's payload and its digest (the sender adds the digest to the stream's). */
export function encodeChunk(stream: number, seq: number, table: string, rows: readonly CellValue[][]): {payload: Buffer; digest: Buffer} {
  const w = new Writer(4096)
  w.u32(stream)
  w.u32(seq)
  w.shortText(table, MAX_NAME_BYTES)
  w.u32(rows.length)
  const columns = rows.length === 0 ? 0 : rows[0].length
  w.u16(columns)
  for (const row of rows) {
    if (row.length !== columns) throw new Error(`cannot encode a chunk whose rows have ${row.length} and ${columns} columns`)
    for (const value of row) {
      if (value === null) w.u8(0)
      else if (typeof value === 'number') {
        w.u8(1)
        w.f64(value)
      } else if (typeof value === 'string') {
        const encoded = Buffer.from(value, 'utf8')
        w.u8(2)
        w.u32(encoded.length)
        w.bytes(encoded)
      } else if (value instanceof Uint8Array) {
        w.u8(3)
        w.u32(value.byteLength)
        w.bytes(value)
      } else {
        throw new Error(`cannot encode a cell of type ${typeof value}`)
      }
    }
  }
  const body = w.done()
  if (body.length + DIGEST_BYTES > MAX_SNAPSHOT_CHUNK_BYTES) throw new Error(`cannot encode a chunk of ${body.length} bytes (at most ${MAX_SNAPSHOT_CHUNK_BYTES})`)
  const digest = sha256(body)
  return {payload: Buffer.concat([body, digest]), digest}
}

/** A counted list of member ids, at most `max` of them. */
function readMembers(r: Reader, what: string, max: number): number[] {
  const count = r.u16(`${what} count`)
  if (count > max) throw new Error(`snapshot begin: too many members (at most ${MAX_PEERS} in all)`)
  const ids: number[] = []
  for (let i = 0; i < count; i++) ids.push(r.u16(what))
  return ids
}

export function decodeSnapshotFrame(kind: SnapshotFrame['kind'], data: Buffer): SnapshotFrame {
  switch (kind) {
    case 'begin': {
      const r = new Reader(data, 'begin')
      const stream = r.u32('stream')
      const leaderTerm = r.u32('leader term')
      const index = r.count('index')
      const term = r.u32('term')
      const voters = readMembers(r, 'voter', MAX_PEERS)
      const learners = readMembers(r, 'learner', MAX_PEERS - voters.length)
      r.finish()
      return {kind, stream, leaderTerm, index, term, membership: {voters, learners}}
    }
    case 'have':
    case 'plan': {
      const r = new Reader(data, kind)
      const stream = r.u32('stream')
      const index = r.count(kind === 'have' ? 'applied index' : 'base')
      r.finish()
      return kind === 'have' ? {kind, stream, applied: index} : {kind, stream, base: index}
    }
    case 'chunk':
      return decodeChunk(data)
    case 'end': {
      const r = new Reader(data, 'end')
      const stream = r.u32('stream')
      const chunks = r.u32('chunk count')
      const tableCount = r.u8('table count')
      if (tableCount > MAX_TABLES) throw new Error(`snapshot end: ${tableCount} tables (at most ${MAX_TABLES})`)
      const tables: {name: string; rows: number}[] = []
      for (let i = 0; i < tableCount; i++) tables.push({name: r.shortText('table name', MAX_NAME_BYTES), rows: r.count('row count')})
      const digest = Buffer.from(r.bytes(DIGEST_BYTES, 'digest'))
      r.finish()
      return {kind, stream, chunks, tables, digest}
    }
    case 'ack': {
      const r = new Reader(data, 'ack')
      const stream = r.u32('stream')
      const seq = r.u32('seq')
      const ok = r.u8('ok')
      if (ok > 1) throw new Error(`snapshot ack: ok is ${ok}, not 0 or 1`)
      const reason = r.shortText('reason', MAX_REASON_BYTES)
      r.finish()
      return reason === '' ? {kind, stream, seq, ok: ok === 1} : {kind, stream, seq, ok: ok === 1, reason}
    }
  }
}

function decodeChunk(data: Buffer): SnapshotChunk {
  if (data.length > MAX_SNAPSHOT_CHUNK_BYTES) throw new Error(`snapshot chunk of ${data.length} bytes (at most ${MAX_SNAPSHOT_CHUNK_BYTES})`)
  if (data.length < 8 + 1 + 4 + 2 + DIGEST_BYTES) throw new Error(`snapshot chunk of ${data.length} bytes is too short`)
  const bodyEnd = data.length - DIGEST_BYTES
  const r = new Reader(data, 'chunk', bodyEnd)
  const stream = r.u32('stream')
  const seq = r.u32('seq')
  const table = r.shortText('table name', MAX_NAME_BYTES)
  const digest = Buffer.from(data.subarray(bodyEnd))
  if (!sha256(data.subarray(0, bodyEnd)).equals(digest)) return {kind: 'chunk', stream, seq, table, rows: [], digest, intact: false}
  const rowCount = r.u32('row count')
  const columns = r.u16('column count')
  // Every cell takes at least its tag: a count the bytes cannot hold is refused before allocating for it.
  if (rowCount * Math.max(columns, 1) > r.remaining()) throw new Error(`snapshot chunk claims ${rowCount} rows of ${columns} columns in ${r.remaining()} bytes`)
  const rows: CellValue[][] = new Array<CellValue[]>(rowCount)
  for (let i = 0; i < rowCount; i++) {
    const row = new Array<CellValue>(columns)
    for (let c = 0; c < columns; c++) {
      const tag = r.u8('cell tag')
      if (tag === 0) row[c] = null
      else if (tag === 1) row[c] = r.f64('number')
      else if (tag === 2) row[c] = r.bytes(r.u32('text length'), 'text').toString('utf8')
      else if (tag === 3) row[c] = Buffer.from(r.bytes(r.u32('blob length'), 'blob'))
      else throw new Error(`snapshot chunk: unknown cell tag ${tag}`)
    }
    rows[i] = row
  }
  r.finish()
  return {kind: 'chunk', stream, seq, table, rows, digest, intact: true}
}

/** The link frame kind of each snapshot frame, and back. */
export const SNAPSHOT_FRAME_KIND: Record<SnapshotFrame['kind'], FrameKind> = {
  begin: FRAME_KIND.snapshotBegin,
  have: FRAME_KIND.snapshotHave,
  plan: FRAME_KIND.snapshotPlan,
  chunk: FRAME_KIND.snapshotChunk,
  end: FRAME_KIND.snapshotEnd,
  ack: FRAME_KIND.snapshotAck,
}

/** The snapshot frame a link frame kind carries, or null for another kind. */
export function snapshotFrameKind(kind: number): SnapshotFrame['kind'] | null {
  for (const [name, code] of Object.entries(SNAPSHOT_FRAME_KIND)) if (code === kind) return name as SnapshotFrame['kind']
  return null
}
