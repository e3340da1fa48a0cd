/**
 * The log entries that are not publishes: the retention policy the cluster applies, and the
 * leader's clock for expiring messages by age. Every member applies them at the same place in
 * the log, so every member trims the same messages.
 *
 *   u8 version (2) | u8 kind | payload
 *   kind 1, policy: the policy as canonical JSON (utf8)
 *   kind 2, expire: f64 milliseconds since the epoch, the proposing leader's clock
 *   kind 3, members: JSON array of member-directory cards ({id, node_id, host, raft_port,
 *           tcp_port, http_port}), added to the directory or updating it (member-directory.ts)
 *
 * A publish starts with version 1 (publish-command.ts), so a node of a version before these
 * entries reads them as publishes of an unknown version and skips them (MessageStore.decode).
 */
import type {DirectoryMember} from '../api/node-http.js'
import {policyFromText, policyText, type RetentionPolicy} from '../util/retention-spec.js'
import {MAX_DIRECTORY_MEMBERS, parseMember} from './member-directory.js'
import {decodePublish, type PublishCommand} from './publish-command.js'

const VERSION = 2
const KIND_POLICY = 1
const KIND_EXPIRE = 2
const KIND_MEMBERS = 3
/** A card is under 400 bytes as JSON: a full directory fits well below this. */
const MAX_MEMBERS_BYTES = 512 * 1024
/** A policy is a few limits per topic: far below this unless something is wrong. */
const MAX_POLICY_BYTES = 256 * 1024

export type LogCommand =
  | {kind: 'publish'; publish: PublishCommand}
  | {kind: 'policy'; policy: RetentionPolicy}
  | {kind: 'expire'; now: number}
  | {kind: 'members'; members: DirectoryMember[]}

/** Cards for the member directory; throws when they could not be read back (decodeCommand's checks). */
export function encodeMembers(members: readonly DirectoryMember[]): Uint8Array {
  const text = Buffer.from(JSON.stringify(members.map((m) => ({id: m.id, node_id: m.node_id, host: m.host, raft_port: m.raft_port, tcp_port: m.tcp_port, http_port: m.http_port}))))
  const data = Buffer.concat([Buffer.from([VERSION, KIND_MEMBERS]), text])
  decodeMembers(data)
  return data
}

function decodeMembers(buffer: Buffer): {kind: 'members'; members: DirectoryMember[]} {
  if (buffer.length - 2 > MAX_MEMBERS_BYTES) throw new Error('members entry is too large')
  let raw: unknown
  try {
    raw = JSON.parse(buffer.toString('utf8', 2))
  } catch {
    throw new Error('members entry is not JSON')
  }
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_DIRECTORY_MEMBERS) throw new Error(`members entry is not a list of 1..${MAX_DIRECTORY_MEMBERS} members`)
  const members: DirectoryMember[] = []
  const seen = new Set<number>()
  for (const item of raw) {
    const member = parseMember(item)
    if (typeof member === 'string') throw new Error(`members entry: ${member}`)
    if (seen.has(member.id)) throw new Error(`members entry lists member ${member.id} twice`)
    seen.add(member.id)
    members.push(member)
  }
  return {kind: 'members', members}
}

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
  if (kind === KIND_MEMBERS) return decodeMembers(buffer)
  throw new Error(`control command of unknown kind ${kind}`)
}
