/**
 * A JSON parser that keeps the line of every value, so a scenario file's errors can name the
 * line they are on (JSON.parse gives none). Strict JSON (RFC 8259), nothing more; a file is
 * hostile input, so its size and nesting depth are capped before and while it is read, and
 * every refusal is a `ScenarioFileError` carrying a line, never an exception of the parser.
 * (JSON has no aliases or references, so YAML's billion-laughs expansion cannot happen here:
 * a value is at most as big as its text.)
 */

/** Largest scenario file read (a long scenario is a few KiB). */
export const MAX_FILE_BYTES = 256 * 1024
/** Deepest nesting of arrays and objects (a scenario needs 4: file, steps, step, groups). */
export const MAX_DEPTH = 16

/** A problem with a scenario file, at a line (1-based). */
export class ScenarioFileError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`)
    this.name = 'ScenarioFileError'
  }
}

export type JsonNode =
  | {kind: 'object'; line: number; entries: Map<string, {keyLine: number; value: JsonNode}>}
  | {kind: 'array'; line: number; items: JsonNode[]}
  | {kind: 'string'; line: number; value: string}
  | {kind: 'number'; line: number; value: number}
  | {kind: 'boolean'; line: number; value: boolean}
  | {kind: 'null'; line: number}

/** What a node holds, in words, for "must be a string, not <what>" messages. */
export function describeNode(node: JsonNode): string {
  switch (node.kind) {
    case 'object':
      return 'an object'
    case 'array':
      return 'a list'
    case 'string':
      return `the text ${JSON.stringify(node.value.length > 30 ? `${node.value.slice(0, 30)}…` : node.value)}`
    case 'number':
      return `the number ${node.value}`
    case 'boolean':
      return String(node.value)
    case 'null':
      return 'null'
  }
}

/** The size cap, for every format: checked before any parser sees the text. */
export function refuseLargeText(text: string): void {
  if (Buffer.byteLength(text, 'utf8') > MAX_FILE_BYTES) throw new ScenarioFileError(1, `the file is larger than ${MAX_FILE_BYTES / 1024} KiB: a scenario is a few steps`)
}

export function parseJsonTree(text: string): JsonNode {
  refuseLargeText(text)
  const parser = new Parser(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  parser.skipSpace()
  if (parser.atEnd()) throw new ScenarioFileError(1, 'the file is empty: a scenario is one JSON object')
  const root = parser.value(0)
  parser.skipSpace()
  if (!parser.atEnd()) parser.fail('unexpected text after the scenario object (one JSON object per file)')
  return root
}

class Parser {
  private pos = 0
  private line = 1

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length
  }

  fail(reason: string, line = this.line): never {
    throw new ScenarioFileError(line, reason)
  }

  skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]
      if (c === '\n') this.line++
      else if (c !== ' ' && c !== '\t' && c !== '\r') return
      this.pos++
    }
  }

  value(depth: number): JsonNode {
    this.skipSpace()
    if (this.atEnd()) this.fail('the file ends in the middle of a value')
    const c = this.text[this.pos]
    const line = this.line
    if (c === '{' || c === '[') {
      if (depth >= MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`)
      return c === '{' ? this.object(depth + 1) : this.array(depth + 1)
    }
    if (c === '"') return {kind: 'string', line, value: this.string()}
    if (c === '-' || (c >= '0' && c <= '9')) return {kind: 'number', line, value: this.number()}
    for (const [word, node] of [
      ['true', {kind: 'boolean', line, value: true}],
      ['false', {kind: 'boolean', line, value: false}],
      ['null', {kind: 'null', line}],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length
        return node
      }
    }
    if (c === "'") this.fail("strings take double quotes in JSON, not '")
    if (c === '/' || c === '#') this.fail('JSON has no comments: put notes in a "say" step or a "text" field')
    return this.fail(`unexpected ${JSON.stringify(c)} where a value was due`)
  }

  private object(depth: number): JsonNode {
    const line = this.line
    this.pos++
    const entries = new Map<string, {keyLine: number; value: JsonNode}>()
    this.skipSpace()
    if (this.text[this.pos] === '}') {
      this.pos++
      return {kind: 'object', line, entries}
    }
    for (;;) {
      this.skipSpace()
      const c = this.text[this.pos]
      if (c === undefined) this.fail(`the object opened on line ${line} is never closed`)
      if (c === '/' || c === '#') this.fail('JSON has no comments: put notes in a "say" step or a "text" field')
      if (c !== '"') this.fail(c === '}' ? 'a comma before "}" (JSON allows no trailing comma)' : 'a field name in double quotes was due')
      const keyLine = this.line
      const key = this.string()
      if (entries.has(key)) this.fail(`the field "${key}" is given twice`, keyLine)
      this.skipSpace()
      if (this.text[this.pos] !== ':') this.fail(`a ":" was due after "${key}"`)
      this.pos++
      entries.set(key, {keyLine, value: this.value(depth)})
      this.skipSpace()
      const next = this.text[this.pos]
      this.pos++
      if (next === '}') return {kind: 'object', line, entries}
      if (next !== ',') this.fail(next === undefined ? `the object opened on line ${line} is never closed` : `a "," or "}" was due, not ${JSON.stringify(next)}`)
    }
  }

  private array(depth: number): JsonNode {
    const line = this.line
    this.pos++
    const items: JsonNode[] = []
    this.skipSpace()
    if (this.text[this.pos] === ']') {
      this.pos++
      return {kind: 'array', line, items}
    }
    for (;;) {
      this.skipSpace()
      if (this.text[this.pos] === ']') this.fail('a comma before "]" (JSON allows no trailing comma)')
      items.push(this.value(depth))
      this.skipSpace()
      const next = this.text[this.pos]
      this.pos++
      if (next === ']') return {kind: 'array', line, items}
      if (next !== ',') this.fail(next === undefined ? `the list opened on line ${line} is never closed` : `a "," or "]" was due, not ${JSON.stringify(next)}`)
    }
  }

  private string(): string {
    const start = this.pos
    const line = this.line
    this.pos++
    for (; this.pos < this.text.length; this.pos++) {
      const c = this.text[this.pos]
      if (c === '"') break
      if (c === '\\') this.pos++
      else if (c === '\n') this.fail('a string may not run over the end of its line (write \\n)', line)
    }
    if (this.pos >= this.text.length) this.fail('a string is never closed', line)
    this.pos++
    try {
      return JSON.parse(this.text.slice(start, this.pos)) as string
    } catch {
      return this.fail('a string has a bad escape or a raw tab or control character (write \\", \\\\, \\n, \\t, \\uXXXX)', line)
    }
  }

  private number(): number {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.pos, this.pos + 64))
    if (!match) this.fail('a malformed number')
    this.pos += match[0].length
    const value = Number(match[0])
    if (!Number.isFinite(value)) this.fail(`the number ${match[0]} is too large`)
    return value
  }
}
