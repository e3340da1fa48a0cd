/**
 * The one reading of `--retention` (`pad-cli node` and `pad-cli up`): which messages the cluster
 * keeps. Each value of the repeatable flag is a comma-separated list of `key=value` limits:
 *
 *   max-messages=1000000,max-bytes=1GB,max-age=24h      the whole store (every topic together)
 *   topic:orders:max-messages=1000,max-age=1h            one topic
 *   none                                                 no limits (the default)
 *
 * Sizes are bytes, or a number with KB, MB or GB (powers of 1024); ages are durations as
 * everywhere else (util/duration.ts). A limit given twice for the same scope is refused, as is
 * anything else that does not read: the error names the part at fault.
 */
import {parseDuration} from './duration.js'

export interface RetentionLimits {
  /** Most messages kept; the oldest go first. */
  maxMessages?: number
  /** Most bytes kept (topic plus body, UTF-8); the oldest go first. */
  maxBytes?: number
  /** Messages older than this (by their publish timestamp) go, oldest first. */
  maxAgeMs?: number
}

export interface RetentionPolicy {
  /** Limits on the whole store, all topics together (max-age: on every message). */
  cluster: RetentionLimits
  /** Limits on single topics, by name. */
  topics: Record<string, RetentionLimits>
}

export const NO_RETENTION: RetentionPolicy = {cluster: {}, topics: {}}

const SIZE_UNITS: Record<string, number> = {'': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3}
/** Far above any disk, and still an exact integer in a double. */
const MAX_LIMIT = 2 ** 50
/** A century: far beyond any retention. */
const MAX_AGE_MS = 100 * 365 * 24 * 3_600_000
const TOPIC_PREFIX = 'topic:'
const MAX_TOPIC_LENGTH = 255

function parseCount(text: string, part: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`--retention ${JSON.stringify(part)}: max-messages must be a whole number >= 1`)
  const value = Number(text)
  if (value < 1 || value > MAX_LIMIT) throw new Error(`--retention ${JSON.stringify(part)}: max-messages must be between 1 and ${MAX_LIMIT}`)
  return value
}

function parseSize(text: string, part: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text)
  if (match === null) throw new Error(`--retention ${JSON.stringify(part)}: max-bytes must be a size such as 500000, 64KB, 10MB or 1GB`)
  const value = Math.floor(Number(match[1]) * SIZE_UNITS[(match[2] ?? '').toLowerCase()])
  if (value < 1 || value > MAX_LIMIT) throw new Error(`--retention ${JSON.stringify(part)}: max-bytes must be between 1 byte and ${MAX_LIMIT} bytes`)
  return value
}

function parseAge(text: string, part: string): number {
  const ms = parseDuration(text, `--retention ${JSON.stringify(part)}: max-age`, {minMs: 1, maxMs: MAX_AGE_MS, examples: '30s, 10m, 24h'})
  return ms
}

/** One flag value: its scope (null for the whole store) and its limits. */
function parseOne(value: string): {topic: string | null; limits: RetentionLimits} {
  let topic: string | null = null
  let rest = value.trim()
  if (rest.startsWith(TOPIC_PREFIX)) {
    // Topic names may hold colons, limits never do: the name ends at the last colon before the first "=".
    const eq = rest.indexOf('=')
    const end = rest.lastIndexOf(':', eq === -1 ? rest.length : eq)
    if (end < TOPIC_PREFIX.length) throw new Error(`--retention ${JSON.stringify(value)}: write topic:<name>:<limits>, e.g. topic:orders:max-messages=1000`)
    topic = rest.slice(TOPIC_PREFIX.length, end)
    if (topic.length === 0 || topic.length > MAX_TOPIC_LENGTH || !/^[A-Za-z0-9_\-:@$]+(\.[A-Za-z0-9_\-:@$]+)*$/.test(topic)) {
      throw new Error(`--retention ${JSON.stringify(value)}: ${JSON.stringify(topic)} is not a topic name`)
    }
    rest = rest.slice(end + 1)
  }
  if (rest.length === 0) throw new Error(`--retention ${JSON.stringify(value)}: no limits given (max-messages=, max-bytes=, max-age=)`)
  const limits: RetentionLimits = {}
  for (const raw of rest.split(',')) {
    const part = raw.trim()
    const eq = part.indexOf('=')
    const key = eq === -1 ? part : part.slice(0, eq).trim()
    const text = eq === -1 ? '' : part.slice(eq + 1).trim()
    if (eq === -1 || text === '') throw new Error(`--retention ${JSON.stringify(part)}: write key=value (max-messages=, max-bytes=, max-age=)`)
    const field = key === 'max-messages' ? 'maxMessages' : key === 'max-bytes' ? 'maxBytes' : key === 'max-age' ? 'maxAgeMs' : null
    if (field === null) throw new Error(`--retention ${JSON.stringify(part)}: unknown limit ${JSON.stringify(key)} (max-messages, max-bytes, max-age)`)
    if (limits[field] !== undefined) throw new Error(`--retention ${JSON.stringify(part)}: ${key} is given twice`)
    limits[field] = field === 'maxMessages' ? parseCount(text, part) : field === 'maxBytes' ? parseSize(text, part) : parseAge(text, part)
  }
  return {topic, limits}
}

/** Every value of `--retention` as one policy; throws an Error whose one-line message names the bad part. */
export function parseRetention(values: readonly string[]): RetentionPolicy {
  const policy: RetentionPolicy = {cluster: {}, topics: {}}
  if (values.some((v) => v.trim() === 'none')) {
    if (values.length > 1) throw new Error('--retention none means no limits: give it alone')
    return policy
  }
  for (const value of values) {
    const {topic, limits} = parseOne(value)
    const target = topic === null ? policy.cluster : (policy.topics[topic] ??= {})
    for (const key of Object.keys(limits) as (keyof RetentionLimits)[]) {
      if (target[key] !== undefined) throw new Error(`--retention ${JSON.stringify(value)}: ${key === 'maxMessages' ? 'max-messages' : key === 'maxBytes' ? 'max-bytes' : 'max-age'} is given twice for ${topic === null ? 'the cluster' : `topic ${topic}`}`)
      target[key] = limits[key]
    }
  }
  return canonicalPolicy(policy)
}

function canonicalLimits(limits: RetentionLimits): RetentionLimits {
  const out: RetentionLimits = {}
  if (limits.maxMessages !== undefined) out.maxMessages = limits.maxMessages
  if (limits.maxBytes !== undefined) out.maxBytes = limits.maxBytes
  if (limits.maxAgeMs !== undefined) out.maxAgeMs = limits.maxAgeMs
  return out
}

/** The same policy with keys in one order (topics sorted), so equal policies encode alike. */
export function canonicalPolicy(policy: RetentionPolicy): RetentionPolicy {
  const topics: Record<string, RetentionLimits> = {}
  for (const name of Object.keys(policy.topics).sort()) topics[name] = canonicalLimits(policy.topics[name])
  return {cluster: canonicalLimits(policy.cluster), topics}
}

/** The policy as the text that is replicated and stored: canonical JSON. */
export function policyText(policy: RetentionPolicy): string {
  return JSON.stringify(canonicalPolicy(policy))
}

function limitsFrom(value: unknown, where: string): RetentionLimits {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} is not an object`)
  const limits: RetentionLimits = {}
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (key !== 'maxMessages' && key !== 'maxBytes' && key !== 'maxAgeMs') throw new Error(`${where} has an unknown limit ${JSON.stringify(key)}`)
    const max = key === 'maxAgeMs' ? MAX_AGE_MS : MAX_LIMIT
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw new Error(`${where}.${key} is not a whole number in 1..${max}`)
    limits[key] = v
  }
  return limits
}

/** Reads a policy back from policyText's form; throws on anything else (it came from the log or a file). */
export function policyFromText(text: string): RetentionPolicy {
  const value: unknown = JSON.parse(text)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('a retention policy must be an object')
  const {cluster, topics, ...extra} = value as Record<string, unknown>
  if (Object.keys(extra).length > 0) throw new Error(`a retention policy has unknown fields: ${Object.keys(extra).join(', ')}`)
  if (typeof topics !== 'object' || topics === null || Array.isArray(topics)) throw new Error('a retention policy needs "topics" (an object)')
  const out: RetentionPolicy = {cluster: limitsFrom(cluster, 'cluster'), topics: {}}
  for (const [name, limits] of Object.entries(topics as Record<string, unknown>)) {
    if (name.length === 0 || name.length > MAX_TOPIC_LENGTH) throw new Error('a retention policy names a topic that is not one')
    out.topics[name] = limitsFrom(limits, `topics[${JSON.stringify(name)}]`)
  }
  return canonicalPolicy(out)
}
