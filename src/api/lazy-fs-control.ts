/**
 * The control protocol of native/lazyfs (the FUSE layer of the power-cut tests): one request
 * line, one answer line, on a Unix socket next to the mount.
 *
 *   > pending            < ok files=2 bytes=8192 entries=1    (what a cut would drop now)
 *   > cut                < ok files=2 bytes=8192 entries=1    (what it dropped)
 *   > cut torn seed=7    < ok files=2 bytes=8192 entries=1 torn=1 1536:data/raft.db-wal
 *        (the same cut, then of each file's last unsynced write a seeded prefix of whole
 *        512-byte sectors survives: the files that got one, with the bytes kept, the path
 *        percent-escaped; at most 16 listed, `torn` counts them all)
 *   > ping               < ok
 *   > anything else      < error <reason>
 *
 * The answer comes from another process, so it is decoded like any hostile input: a line
 * that is not exactly one of these shapes is an error, never a crash. Codecs only, no I/O.
 */
import type {Decoded} from './control.js'

export const LAZY_FS_COMMANDS = ['ping', 'pending', 'cut'] as const
export type LazyFsCommand = (typeof LAZY_FS_COMMANDS)[number]

/** Largest seed of a torn cut: what a JavaScript number holds exactly (lazyfs checks it too). */
export const MAX_TORN_SEED = Number.MAX_SAFE_INTEGER

/** A cut's options: `torn` keeps, per file, a prefix of its last unsynced write, chosen by `seed`. */
export interface CutOptions {
  torn?: boolean
  seed?: number
}

/** The request line of a cut (without its newline); throws on a seed that is not a whole number in range. */
export function encodeCut(options: CutOptions = {}): string {
  if (!options.torn) return 'cut'
  const seed = options.seed ?? 0
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`a torn cut's seed must be a whole number from 0 to ${MAX_TORN_SEED}, not ${String(seed)}`)
  return `cut torn seed=${seed}`
}

/** One file that got a torn write: its path in the data dir, and how many bytes of its last write survived. */
export interface TornFile {
  path: string
  kept: number
}

/** What a cut drops: unsynced data of `files` files, `bytes` bytes, `entries` namespace ops undone. */
export interface DropReport {
  files: number
  bytes: number
  entries: number
  /** Torn cuts only: how many files kept part of their last write, and (at most 16 of) which. */
  torn?: {count: number; files: TornFile[]}
}

const REPORT = /^ok files=(\d{1,15}) bytes=(\d{1,15}) entries=(\d{1,15})(?: torn=(\d{1,15})((?: \d{1,15}:[A-Za-z0-9._/%-]{1,20000}){0,16}))?$/

/** Decodes the answer to `command` (without its newline). */
export function decodeLazyFsAnswer(command: 'ping', line: string): Decoded<null>
export function decodeLazyFsAnswer(command: 'pending' | 'cut', line: string): Decoded<DropReport>
export function decodeLazyFsAnswer(command: LazyFsCommand, line: string): Decoded<DropReport | null> {
  if (line.startsWith('error ')) return {ok: false, message: `lazyfs refused "${command}": ${printable(line.slice(6))}`}
  if (command === 'ping') return line === 'ok' ? {ok: true, value: null} : unexpected(command, line)
  const match = REPORT.exec(line)
  if (!match) return unexpected(command, line)
  const report: DropReport = {files: Number(match[1]), bytes: Number(match[2]), entries: Number(match[3])}
  if (match[4] === undefined) return {ok: true, value: report}
  const files: TornFile[] = []
  for (const word of match[5].split(' ').slice(1)) {
    const colon = word.indexOf(':')
    const path = unescapePath(word.slice(colon + 1))
    if (path === undefined) return unexpected(command, line)
    files.push({kept: Number(word.slice(0, colon)), path})
  }
  return {ok: true, value: {...report, torn: {count: Number(match[4]), files}}}
}

/** lazyfs escapes every byte outside [A-Za-z0-9._/-] as %XX; undefined for a broken escape. */
function unescapePath(text: string): string | undefined {
  const bytes: number[] = []
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '%') {
      bytes.push(text.charCodeAt(i))
      continue
    }
    const hex = text.slice(i + 1, i + 3)
    if (!/^[0-9A-F]{2}$/.test(hex)) return undefined
    bytes.push(parseInt(hex, 16))
    i += 2
  }
  return Buffer.from(bytes).toString('utf8')
}

function unexpected(command: LazyFsCommand, line: string): Decoded<never> {
  return {ok: false, message: `lazyfs gave an unexpected answer to "${command}": ${JSON.stringify(printable(line))}`}
}

/** At most 200 characters, control characters replaced: safe to put into an error message. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.slice(0, 200).replace(/[\u0000-\u001f\u007f]/g, '?')
}
