/**
 * The log entries that are not publishes: the retention policy the cluster applies, and the
 * leader's clock for expiring messages by age. Every member applies them at the same place in
 * the log, so every member trims the same messages.
 *
 *   u8 version (2) | u8 kind | payload
 *   kind 1, policy: the policy as canonical JSON (utf8)
 *   kind 2, expire: f64 milliseconds since the epoch, the proposing leader's clock
 *
 * A publish starts with version 1 (publish-command.ts), so a node of a version before these
 * entries reads them as publishes of an unknown version and skips them (MessageStore.decode).
 */
import {policyFromText, policyText, type RetentionPolicy} from '../util/retention-spec.js'
import {decodePublish, type PublishCommand} from './publish-command.js'

const VERSION = 2
const KIND_POLICY = 1
const KIND_EXPIRE = 2
/** A policy is a few limits per topic: far below this unless something is wrong. */
const MAX_POLICY_BYTES = 256 * 1024

export type LogCommand =
  | {kind: 'publish'; publish: PublishCommand}
  | {kind: 'policy'; policy: RetentionPolicy}
  | {kind: 'expire'; now: number}

export function encodePolicy(policy: RetentionPolicy): Uint8Array {
  const text = Buffer.from(policyText(policy))
  if (text.length > MAX_POLICY_BYTES) throw new Error(`the retention policy is too large to replicate (${text.length} bytes, at most ${MAX_POLICY_BYTES})`)
  return Buffer.concat([Buffer.from([VERSION, KIND_POLICY]), text])
}

export function encodeExpire(now: number): Uint8Array {
  const buffer = Buffer.alloc(2 + 8)
  buffer.writeUInt8(VERSION, 0)
  buffer.writeUInt8(KIND_EXPIRE, 1)
  buffer.writeDoubleLE(now, 2)
  return buffer
}

/** The command an entry carries; throws (with a reason) for anything that is not one. */
export function decodeCommand(data: Uint8Array): LogCommand {
  const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (buffer.length === 0 || buffer.readUInt8(0) !== VERSION) return {kind: 'publish', publish: decodePublish(buffer)}
  if (buffer.length < 2) throw new Error('control command is truncated (kind)')
  const kind = buffer.readUInt8(1)
  if (kind === KIND_POLICY) {
    if (buffer.length - 2 > MAX_POLICY_BYTES) throw new Error('retention policy entry is too large')
    try {
      return {kind: 'policy', policy: policyFromText(buffer.toString('utf8', 2))}
    } catch (error) {
      throw new Error(`retention policy entry does not read: ${(error as Error).message}`)
    }
  }
  if (kind === KIND_EXPIRE) {
    if (buffer.length !== 10) throw new Error(`expire entry has ${buffer.length} bytes, not 10`)
    const now = buffer.readDoubleLE(2)
    if (!Number.isFinite(now) || now < 0) throw new Error('expire entry has no valid clock')
    return {kind: 'expire', now}
  }
  throw new Error(`control command of unknown kind ${kind}`)
}
