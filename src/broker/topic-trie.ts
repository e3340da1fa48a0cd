/**
 * Wildcard patterns indexed by segment, as NATS's sublist does: matching a topic walks one
 * path per segment (plus the `*` and `>` branches), so its cost follows the topic's depth
 * and the patterns that do match, not how many patterns are stored.
 *
 * The syntax is topics.ts's: segments split on '.', `*` is exactly one segment, `>` (last
 * only) is one or more remaining segments, and the whole pattern `all` is every topic.
 */

/** Collections are made when first needed: most nodes of a large set use one of the three. */
interface TrieNode<T> {
  children: Map<string, TrieNode<T>> | null
  /** Patterns that end at this node. */
  ends: Set<T> | null
  /** Patterns whose next segment is `>`: they match when at least one segment remains. */
  rest: Set<T> | null
}

function newNode<T>(): TrieNode<T> {
  return {children: null, ends: null, rest: null}
}

function isEmpty<T>(node: TrieNode<T>): boolean {
  return !node.children?.size && !node.ends?.size && !node.rest?.size
}

export class TopicTrie<T> {
  private readonly root: TrieNode<T> = newNode()
  private readonly everything = new Set<T>()
  private count = 0

  /** How many (pattern, value) pairs are stored. */
  get size(): number {
    return this.count
  }

  /** Stores `value` under `pattern`; false when it was there already. */
  add(pattern: string, value: T): boolean {
    const set = this.setFor(pattern)
    if (set.has(value)) return false
    set.add(value)
    this.count++
    return true
  }

  /** Removes `value` from `pattern`; false when it was not there. Empty branches are pruned. */
  remove(pattern: string, value: T): boolean {
    if (pattern === 'all') return this.forget(this.everything, value)
    const segments = pattern.split('.')
    const path: TrieNode<T>[] = [this.root]
    let node = this.root
    const last = segments.length - 1
    const restEnd = segments[last] === '>'
    for (let i = 0; i < (restEnd ? last : segments.length); i++) {
      const child = node.children?.get(segments[i])
      if (!child) return false
      node = child
      path.push(node)
    }
    const set = restEnd ? node.rest : node.ends
    if (!set || !this.forget(set, value)) return false
    for (let i = path.length - 1; i > 0; i--) {
      if (!isEmpty(path[i])) break
      path[i - 1].children!.delete(segments[i - 1])
    }
    return true
  }

  /** Calls `visit` with the value of every pattern matching `topic` (a value once per pattern). */
  match(topic: string, visit: (value: T) => void): void {
    for (const value of this.everything) visit(value)
    if (!this.root.children?.size) return
    matchFrom(this.root, topic.split('.'), 0, visit)
  }

  /** Whether any pattern matches `topic`. */
  matches(topic: string): boolean {
    if (this.everything.size > 0) return true
    if (!this.root.children?.size) return false
    return anyFrom(this.root, topic.split('.'), 0)
  }

  private setFor(pattern: string): Set<T> {
    if (pattern === 'all') return this.everything
    const segments = pattern.split('.')
    const last = segments.length - 1
    const restEnd = segments[last] === '>'
    let node = this.root
    for (let i = 0; i < (restEnd ? last : segments.length); i++) {
      node.children ??= new Map()
      let child = node.children.get(segments[i])
      if (!child) {
        child = newNode()
        node.children.set(segments[i], child)
      }
      node = child
    }
    if (restEnd) return (node.rest ??= new Set())
    return (node.ends ??= new Set())
  }

  private forget(set: Set<T>, value: T): boolean {
    if (!set.delete(value)) return false
    this.count--
    return true
  }
}

function matchFrom<T>(node: TrieNode<T>, segments: string[], at: number, visit: (value: T) => void): void {
  if (node.rest && at < segments.length) for (const value of node.rest) visit(value)
  if (at === segments.length) {
    if (node.ends) for (const value of node.ends) visit(value)
    return
  }
  if (!node.children) return
  // A literal '*' segment (never valid in a topic) must not walk the star branch twice.
  const exact = segments[at] === '*' ? undefined : node.children.get(segments[at])
  if (exact) matchFrom(exact, segments, at + 1, visit)
  const star = node.children.get('*')
  if (star) matchFrom(star, segments, at + 1, visit)
}

function anyFrom<T>(node: TrieNode<T>, segments: string[], at: number): boolean {
  if (node.rest?.size && at < segments.length) return true
  if (at === segments.length) return (node.ends?.size ?? 0) > 0
  if (!node.children) return false
  const exact = segments[at] === '*' ? undefined : node.children.get(segments[at])
  if (exact && anyFrom(exact, segments, at + 1)) return true
  const star = node.children.get('*')
  return star !== undefined && anyFrom(star, segments, at + 1)
}
