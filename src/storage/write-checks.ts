// What a write request must be before it is queued: checked on the caller's thread, so that a
// bad value rejects that request alone and the batch's postMessage cannot fail on it.

import {DatabaseWriterError, type WriteLocation} from './writer-errors.js'
import type {SqlValue, WriteOp} from './writer-protocol.js'

export interface CheckedOps {
  ops: WriteOp[]
  rows: number
  /** A buffer made for the request's byte values, to be moved to the worker rather than cloned. */
  packed: ArrayBuffer | null
}

/**
 * Checks the shape of `ops` and every value, so the batch's postMessage cannot fail on it, and
 * counts rows. Returns new op objects carrying only `stmt` and `rows`; the caller's arrays are
 * left as they are (rows that change are copied).
 *
 * A Uint8Array that views only part of its ArrayBuffer (a Buffer from Node's shared pool, or a
 * slice of a network read) would be cloned with its whole buffer. Such values are copied, all
 * of them into one new buffer, which is then moved to the worker instead of cloned: a Raft
 * write carries hundreds of small entries, and one buffer each cost more than the SQL.
 */
export function checkOps(ops: WriteOp[]): CheckedOps {
  const {rows: rowCount, partialViews, partialBytes} = validateOps(ops)
  const out = new Array<WriteOp>(ops.length)
  // A fresh {stmt, rows}: whatever else the caller's object carries is not cloned.
  if (partialViews === 0) {
    for (let o = 0; o < ops.length; o++) out[o] = {stmt: ops[o].stmt, rows: ops[o].rows}
    return {ops: out, rows: rowCount, packed: null}
  }
  const packed = new Uint8Array(partialBytes)
  let at = 0
  for (let o = 0; o < ops.length; o++) {
    const rows = ops[o].rows
    let outRows: SqlValue[][] | null = null
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]
      let outRow: SqlValue[] | null = null
      for (let c = 0; c < row.length; c++) {
        const v = row[c]
        if (!(v instanceof Uint8Array) || !viewsPartOfBuffer(v)) continue
        packed.set(v, at)
        outRow ??= row.slice()
        outRow[c] = packed.subarray(at, at + v.byteLength)
        at += v.byteLength
      }
      if (outRow !== null) {
        outRows ??= rows.slice()
        outRows[r] = outRow
      }
    }
    out[o] = {stmt: ops[o].stmt, rows: outRows ?? rows}
  }
  return {ops: out, rows: rowCount, packed: packed.buffer}
}

/**
 * Throws an ERR_INVALID_WRITE DatabaseWriterError naming the first value of `ops` that is not of
 * the right shape or cannot be bound. Counts the rows, and the byte views that share a larger buffer.
 */
export function validateOps(ops: WriteOp[]): {rows: number; partialViews: number; partialBytes: number} {
  if (!Array.isArray(ops)) throw invalidWrite(`ops must be an array of {stmt, rows}, got ${describe(ops)}`)
  let rowCount = 0
  let partialBytes = 0
  let partialViews = 0
  for (let o = 0; o < ops.length; o++) {
    const op = ops[o]
    if (op === null || typeof op !== 'object' || typeof op.stmt !== 'string' || !Array.isArray(op.rows)) {
      throw invalidWrite(`op ${o} must be {stmt: string, rows: SqlValue[][]}`, {op: o})
    }
    const rows = op.rows
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]
      if (!Array.isArray(row)) throw invalidWrite(`op ${o} ("${op.stmt}") row ${r} must be an array of values, got ${describe(row)}`, {stmt: op.stmt, op: o, row: r})
      for (let c = 0; c < row.length; c++) {
        const v = row[c]
        const t = typeof v
        if (v === null || t === 'string' || t === 'number' || t === 'bigint') continue
        if (v instanceof Uint8Array) {
          if (viewsPartOfBuffer(v)) {
            partialViews++
            partialBytes += v.byteLength
          }
          continue
        }
        throw invalidWrite(
          `op ${o} ("${op.stmt}") row ${r} column ${c}: cannot bind ${describe(v)}; expected number, bigint, string, Uint8Array or null`,
          {stmt: op.stmt, op: o, row: r},
        )
      }
    }
    rowCount += rows.length
  }
  return {rows: rowCount, partialViews, partialBytes}
}

/** The rows of the well-formed ops of `ops`, without checking any value. */
export function roughRowCount(ops: WriteOp[]): number {
  if (!Array.isArray(ops)) return 0
  let rows = 0
  for (const op of ops) if (Array.isArray(op?.rows)) rows += op.rows.length
  return rows
}

/** A value's type as an error message names it. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (typeof value === 'object') return value === null ? 'null' : (value.constructor?.name ?? 'object')
  return typeof value
}

/** Whether `v` shows only part of its ArrayBuffer, which postMessage would clone whole. */
function viewsPartOfBuffer(v: Uint8Array): boolean {
  return v.byteOffset !== 0 || v.byteLength !== v.buffer.byteLength
}

function invalidWrite(message: string, where?: WriteLocation): DatabaseWriterError {
  return new DatabaseWriterError(`invalid write: ${message}`, 'ERR_INVALID_WRITE', where)
}
