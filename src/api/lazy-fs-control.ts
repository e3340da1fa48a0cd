/**
 * The control protocol of native/lazyfs (the FUSE layer of the power-cut tests): one request
 * line, one answer line, on a Unix socket next to the mount.
 *
 *   > pending            < ok files=2 bytes=8192 entries=1    (what a cut would drop now)
 *   > cut                < ok files=2 bytes=8192 entries=1    (what it dropped)
 *   > ping               < ok
 *   > anything else      < error <reason>
 *
 * The answer comes from another process, so it is decoded like any hostile input: a line
 * that is not exactly one of these shapes is an error, never a crash. Codecs only, no I/O.
 */
import type {Decoded} from './control.js'

export const LAZY_FS_COMMANDS = ['ping', 'pending', 'cut'] as const
export type LazyFsCommand = (typeof LAZY_FS_COMMANDS)[number]

/** What a cut drops: unsynced data of `files` files, `bytes` bytes, `entries` namespace ops undone. */
export interface DropReport {
  files: number
  bytes: number
  entries: number
}

const REPORT = /^ok files=(\d{1,15}) bytes=(\d{1,15}) entries=(\d{1,15})$/

/** Decodes the answer to `command` (without its newline). */
export function decodeLazyFsAnswer(command: 'ping', line: string): Decoded<null>
export function decodeLazyFsAnswer(command: 'pending' | 'cut', line: string): Decoded<DropReport>
export function decodeLazyFsAnswer(command: LazyFsCommand, line: string): Decoded<DropReport | null> {
  if (line.startsWith('error ')) return {ok: false, message: `lazyfs refused "${command}": ${printable(line.slice(6))}`}
  if (command === 'ping') return line === 'ok' ? {ok: true, value: null} : unexpected(command, line)
  const match = REPORT.exec(line)
  if (!match) return unexpected(command, line)
  return {ok: true, value: {files: Number(match[1]), bytes: Number(match[2]), entries: Number(match[3])}}
}

function unexpected(command: LazyFsCommand, line: string): Decoded<never> {
  return {ok: false, message: `lazyfs gave an unexpected answer to "${command}": ${JSON.stringify(printable(line))}`}
}

/** At most 200 characters, control characters replaced: safe to put into an error message. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.slice(0, 200).replace(/[\u0000-\u001f\u007f]/g, '?')
}
