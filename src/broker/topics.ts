/**
 * Topic names and subscription patterns.
 *
 * Topics are dot-separated segments. In a pattern, `*` matches exactly one segment and `>`
 * (only as the last segment) matches one or more remaining segments; the pattern `all`
 * matches every topic (the seed's PAD protocol word for "everything").
 */

import {TopicTrie} from './topic-trie.js'

export const MAX_TOPIC_LENGTH = 255

const SEGMENT = /^[A-Za-z0-9_\-:@$]+$/

/** Returns a reason when `topic` is not a valid concrete topic name, else null. */
export function topicError(topic: unknown): string | null {
  if (typeof topic !== 'string' || topic.length === 0) return 'topic must be a non-empty string'
  if (topic.length > MAX_TOPIC_LENGTH) return `topic is longer than ${MAX_TOPIC_LENGTH} characters`
  for (const segment of topic.split('.')) {
    if (!SEGMENT.test(segment)) {
      return `topic "${topic}" is invalid: segments are letters, digits and _-:@$, separated by dots (no wildcards)`
    }
  }
  return null
}

/** Returns a reason when `pattern` is not a valid subscription pattern, else null. */
export function patternError(pattern: unknown): string | null {
  if (typeof pattern !== 'string' || pattern.length === 0) return 'topic pattern must be a non-empty string'
  if (pattern.length > MAX_TOPIC_LENGTH) return `topic pattern is longer than ${MAX_TOPIC_LENGTH} characters`
  if (pattern === 'all') return null
  const segments = pattern.split('.')
  for (const [i, segment] of segments.entries()) {
    if (segment === '*') continue
    if (segment === '>') {
      if (i !== segments.length - 1) return `topic pattern "${pattern}" is invalid: ">" may only be the last segment`
      continue
    }
    if (!SEGMENT.test(segment)) return `topic pattern "${pattern}" is invalid: bad segment "${segment}"`
  }
  return null
}

export function isWildcard(pattern: string): boolean {
  if (pattern === 'all') return true
  // Most patterns are exact topics: no need to split those.
  if (!pattern.includes('*') && !pattern.includes('>')) return false
  return pattern.split('.').some((s) => s === '*' || s === '>')
}

export function topicMatches(pattern: string, topic: string): boolean {
  if (pattern === 'all' || pattern === topic) return true
  const p = pattern.split('.')
  const t = topic.split('.')
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return t.length > i
    if (i >= t.length) return false
    if (p[i] !== '*' && p[i] !== t[i]) return false
  }
  return p.length === t.length
}

/**
 * A set of patterns: exact topics in a hash set, wildcards in a trie, so a match costs the
 * same with one pattern or a hundred thousand.
 */
export class TopicFilter {
  private readonly exact = new Set<string>()
  private readonly wildcards = new TopicTrie<string>()
  private readonly wildcardPatterns = new Set<string>()

  add(pattern: string): void {
    if (!isWildcard(pattern)) this.exact.add(pattern)
    else if (!this.wildcardPatterns.has(pattern)) {
      this.wildcardPatterns.add(pattern)
      this.wildcards.add(pattern, pattern)
    }
  }

  remove(pattern: string): boolean {
    if (this.exact.delete(pattern)) return true
    if (!this.wildcardPatterns.delete(pattern)) return false
    this.wildcards.remove(pattern, pattern)
    return true
  }

  has(pattern: string): boolean {
    return this.exact.has(pattern) || this.wildcardPatterns.has(pattern)
  }

  get size(): number {
    return this.exact.size + this.wildcardPatterns.size
  }

  patterns(): string[] {
    return [...this.exact, ...this.wildcardPatterns]
  }

  /** The topic, when the filter is one exact topic (the store can then read just that topic). */
  onlyExactTopic(): string | undefined {
    return this.exact.size === 1 && this.wildcardPatterns.size === 0 ? this.exact.values().next().value : undefined
  }

  matches(topic: string): boolean {
    if (this.exact.has(topic)) return true
    return this.wildcardPatterns.size > 0 && this.wildcards.matches(topic)
  }
}
