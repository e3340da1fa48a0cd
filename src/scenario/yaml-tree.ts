/**
 * A YAML scenario file -> the same line-numbered tree json-tree.ts makes of a JSON file, so the
 * validator (and its line numbers) is one for both formats. YAML is read as data that JSON could
 * hold, nothing more: YAML 1.2 core schema, one document, a mapping at the top, only strings,
 * numbers written as JSON writes them, booleans and null. Anchors and aliases (the billion-laughs
 * expansion), tags, directives and duplicate keys are refused, each with its line. The file is
 * hostile input: the size cap comes first, and the nesting depth is checked on the parser's
 * token tree (built without recursion) before the composer, which recurses, ever sees it.
 */
import {Composer, isAlias, isMap, isScalar, isSeq, LineCounter, Parser, type CST, type Document, type Node} from 'yaml'
import {MAX_DEPTH, refuseLargeText, ScenarioFileError, type JsonNode} from './json-tree.js'

/** A number as JSON writes it: what YAML's core schema reads besides (0x1F, .inf, +1) is refused. */
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/

/**
 * Options of the composer: YAML 1.2's core schema (no yes/no/on/off booleans, no timestamps), no
 * `<<` merge keys (a plain key here, so an unknown field), and duplicate keys let through so that
 * convert() refuses them with the same words as the JSON reader.
 */
const COMPOSE_OPTIONS = {version: '1.2', schema: 'core', merge: false, uniqueKeys: false} as const

export function parseYamlTree(text: string): JsonNode {
  refuseLargeText(text)
  const lines = new LineCounter()
  const lineOf = (offset: number): number => lines.linePos(offset).line
  const tokens = [...new Parser(lines.addNewLine).parse(text)]
  checkTokens(tokens, lineOf)
  let docs: Document.Parsed[]
  try {
    docs = [...new Composer(COMPOSE_OPTIONS).compose(tokens)]
  } catch (error) {
    // Not expected of the composer on a token tree this small; still one line, never a stack.
    throw new ScenarioFileError(1, `the YAML reader failed: ${oneLine((error as Error).message)}`)
  }
  if (docs.length === 0) throw new ScenarioFileError(1, 'the file is empty: a scenario is one YAML mapping with name, summary and steps')
  if (docs.length > 1) throw new ScenarioFileError(lineOf(docs[1].range[0]), 'a second YAML document (after "---"): a scenario file holds one')
  const doc = docs[0]
  const problem = doc.errors[0]
  if (problem) {
    const at = lines.linePos(problem.pos[0])
    throw new ScenarioFileError(at.line, `YAML syntax: ${oneLine(problem.message)} (column ${at.col})`)
  }
  const root = doc.contents
  if (!isMap(root)) throw new ScenarioFileError(root?.range ? lineOf(root.range[0]) : 1, 'a scenario is one YAML mapping with name, summary and steps')
  return convert(root, lineOf)
}

/**
 * Before composing, in source order: every directive refused (a %YAML 1.1 would bring back yes/no
 * booleans), every anchor and alias refused (so no expansion can ever happen), and
 * the depth of collections bounded, walking the tokens with a stack of our own.
 */
function checkTokens(tokens: CST.Token[], lineOf: (offset: number) => number): void {
  const stack: {token: CST.Token; depth: number}[] = tokens.map((token) => ({token, depth: 0})).reverse()
  for (let next = stack.pop(); next; next = stack.pop()) {
    const {token} = next
    if (token.type === 'directive') throw new ScenarioFileError(lineOf(token.offset), `the directive ${JSON.stringify(oneLine(token.source).slice(0, 40))} is not taken: a scenario file is plain YAML 1.2`)
    if (token.type === 'alias') throw new ScenarioFileError(lineOf(token.offset), aliasRefusal(token.source))
    const props: CST.Token[] = token.type === 'document' ? token.start : token.type === 'block-scalar' ? token.props : []
    const collection = token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection'
    const depth = next.depth + (collection ? 1 : 0)
    if (depth > MAX_DEPTH) throw new ScenarioFileError(lineOf(token.offset), `nested deeper than ${MAX_DEPTH} levels`)
    const children: (CST.Token | undefined)[] = []
    if (token.type === 'document') children.push(token.value)
    if (collection) for (const item of token.items) props.push(...item.start, ...(item.sep ?? []))
    const anchor = props.find((t): t is CST.SourceToken => t.type === 'anchor')
    if (anchor) throw new ScenarioFileError(lineOf(anchor.offset), anchorRefusal(anchor.source))
    if (collection) for (const item of token.items) children.push(item.key ?? undefined, item.value)
    for (const child of children.reverse()) if (child) stack.push({token: child, depth})
  }
}

function convert(node: Node | null, lineOf: (offset: number) => number, fallbackLine = 1): JsonNode {
  const line = node?.range ? lineOf(node.range[0]) : fallbackLine
  if (node === null) return {kind: 'null', line}
  if (isAlias(node)) throw new ScenarioFileError(line, aliasRefusal(`*${node.source}`))
  if (node.anchor) throw new ScenarioFileError(line, anchorRefusal(`&${node.anchor}`))
  if (node.tag) throw new ScenarioFileError(line, `the tag ${node.tag.replace('tag:yaml.org,2002:', '!!')} is not taken: write plain values (quote one to make it text)`)
  if (isMap(node)) {
    const entries = new Map<string, {keyLine: number; value: JsonNode}>()
    for (const pair of node.items) {
      // The key goes through the same checks as a value (alias, anchor, tag, odd number).
      const key = convert(pair.key as Node | null, lineOf, line)
      if (key.kind === 'object' || key.kind === 'array' || key.kind === 'null') throw new ScenarioFileError(key.line, 'a field name must be a word or text')
      const keyLine = key.line
      const name = key.kind === 'string' ? key.value : String(key.value)
      if (entries.has(name)) throw new ScenarioFileError(keyLine, `the field "${name}" is given twice`)
      // A key with nothing after its ":" is null, on the key's line.
      entries.set(name, {keyLine, value: convert(pair.value as Node | null, lineOf, keyLine)})
    }
    return {kind: 'object', line, entries}
  }
  if (isSeq(node)) return {kind: 'array', line, items: node.items.map((item) => convert(item as Node | null, lineOf, line))}
  if (!isScalar(node)) throw new ScenarioFileError(line, 'a value that is neither text, a number, true, false, null, a list nor a mapping')
  const value = node.value
  if (typeof value === 'string') return {kind: 'string', line, value}
  if (typeof value === 'boolean') return {kind: 'boolean', line, value}
  if (value === null) return {kind: 'null', line}
  if (typeof value === 'number') {
    const source = String(node.source)
    if (!JSON_NUMBER.test(source)) throw new ScenarioFileError(line, `${JSON.stringify(source.slice(0, 30))} is a number only in YAML: write it in decimal (e.g. 10, 1.5, 1e3), or in quotes to mean text`)
    if (!Number.isFinite(value)) throw new ScenarioFileError(line, `the number ${source.slice(0, 30)} is too large`)
    return {kind: 'number', line, value}
  }
  throw new ScenarioFileError(line, 'a value that is neither text, a number, true, false nor null')
}

function aliasRefusal(source: string): string {
  return `the alias ${oneLine(source).slice(0, 40)} is not taken: a scenario file has no anchors or aliases (write the value out)`
}

function anchorRefusal(source: string): string {
  return `the anchor ${oneLine(source).slice(0, 40)} is not taken: a scenario file has no anchors or aliases`
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}
