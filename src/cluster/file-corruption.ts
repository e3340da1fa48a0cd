/**
 * The file nemesis (Jepsen's): damage a stopped node's database or WAL as a failing disk would,
 * either flipping bits in one random stretch of the file or cutting its end off. Only ever on a
 * file no process has open (the supervisor refuses a running node): SQLite's own cache must not
 * paper over what the disk now holds.
 */
import fs from 'node:fs'
import path from 'node:path'

import type {CorruptFileName} from '../api/control.js'

/** How to damage it: N bits flipped in a random stretch, or the last BYTES bytes cut off. */
export type CorruptHow = {bitflip: number} | {truncate: number}

/** The stretch the bits are flipped in: a failing sector or two, as Jepsen's bitflip picks a region. */
const BITFLIP_STRETCH_BYTES = 64 * 1024

export interface CorruptionDone {
  file: string
  bytes_before: number
  bytes_after: number
  /** For a bitflip: the stretch [start, end) of the file, and the bit offsets flipped (the first 32). */
  range?: [number, number]
  bits?: number[]
  /** For a truncation: the bytes cut. */
  cut?: number
}

/** The file a target names in a node's data dir. */
export function targetPath(dataDir: string, target: CorruptFileName): string {
  return path.join(dataDir, target === 'db' ? 'node.db' : 'node.db-wal')
}

/**
 * Damages the file; throws an Error that says why it cannot (no such file, an empty one). `random`
 * returns [0, 1) (Math.random by default; the answer says exactly what was done either way).
 */
export function corruptFile(file: string, how: CorruptHow, random: () => number = Math.random): CorruptionDone {
  let size: number
  try {
    size = fs.statSync(file).size
  } catch (error) {
    throw new Error(`${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  if (size === 0) throw new Error(`${file} is empty: nothing to damage`)
  if ('truncate' in how) {
    const cut = Math.min(how.truncate, size)
    fs.truncateSync(file, size - cut)
    return {file, bytes_before: size, bytes_after: size - cut, cut}
  }
  const length = Math.min(size, BITFLIP_STRETCH_BYTES)
  const start = Math.floor(random() * (size - length + 1))
  const bits: number[] = []
  const fd = fs.openSync(file, 'r+')
  try {
    const stretch = Buffer.alloc(length)
    fs.readSync(fd, stretch, 0, length, start)
    for (let i = 0; i < how.bitflip; i++) {
      const bit = Math.floor(random() * length * 8)
      stretch[bit >> 3] ^= 1 << (bit & 7)
      if (bits.length < 32) bits.push(start * 8 + bit)
    }
    fs.writeSync(fd, stretch, 0, length, start)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  return {file, bytes_before: size, bytes_after: size, range: [start, start + length], bits}
}

/** Flips one bit at a byte offset of a file (a test that aims at a known row). */
export function flipBitAt(file: string, byteOffset: number, bit = 0): void {
  const fd = fs.openSync(file, 'r+')
  try {
    const one = Buffer.alloc(1)
    if (fs.readSync(fd, one, 0, 1, byteOffset) !== 1) throw new Error(`${file} has no byte at offset ${byteOffset}`)
    one[0] ^= 1 << (bit & 7)
    fs.writeSync(fd, one, 0, 1, byteOffset)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}
