/**
 * Message formats and their validation: JSON bodies must parse, XML bodies must be
 * well-formed, RAW is anything.
 *
 * Validation never throws: whatever a client sends, the answer is a reason (a client error)
 * or null. Parsers can fail on input they were not built for (deep nesting, entity
 * declarations), so every parser call is wrapped, and the shapes that hurt a parser are
 * refused before it runs.
 */
import {XMLParser, XMLValidator} from 'fast-xml-parser'

export const FORMATS = ['JSON', 'XML', 'RAW'] as const
export type Format = (typeof FORMATS)[number]

/** Deepest nesting of arrays and objects accepted in a JSON body. */
export const MAX_JSON_DEPTH = 256
/** Deepest nesting of elements accepted in an XML body. */
export const MAX_XML_DEPTH = 100

export function parseFormat(value: unknown): Format | null {
  if (typeof value !== 'string') return null
  const upper = value.toUpperCase()
  return (FORMATS as readonly string[]).includes(upper) ? (upper as Format) : null
}

/** Returns a reason when `body` is not valid for `format`, else null. */
export function bodyError(format: Format, body: string): string | null {
  if (format === 'JSON') {
    const tooDeep = jsonDepthError(body, MAX_JSON_DEPTH)
    if (tooDeep) return `body is not accepted: ${tooDeep}`
    try {
      JSON.parse(body)
      return null
    } catch (error) {
      return `body is not valid JSON: ${errorMessage(error)}`
    }
  }
  if (format === 'XML') {
    if (body.trim() === '') return 'body is not well-formed XML: it is empty'
    if (DECLARATION.test(body)) return 'body is not accepted: XML with a DOCTYPE or ENTITY declaration is refused'
    if (xmlTooDeep(body, MAX_XML_DEPTH)) return `body is not accepted: XML is nested deeper than ${MAX_XML_DEPTH} elements`
    try {
      const result = XMLValidator.validate(body)
      if (result !== true) return `body is not well-formed XML: ${result.err.msg} (line ${result.err.line}, column ${result.err.col})`
      return rootError(body)
    } catch (error) {
      return xmlParserError(error)
    }
  }
  return null
}

/**
 * DTDs are what make XML dangerous (entity expansion, external entities) and no PAD
 * message needs one, so a body that declares any is refused outright.
 */
const DECLARATION = /<!(DOCTYPE|ENTITY)/i

/**
 * Returns a reason when the JSON text nests arrays and objects deeper than `maxDepth`, else
 * null. One linear scan, skipping strings: cheap next to the parse, and it keeps deep input
 * away from anything recursive (JSON.stringify of the parsed value is). Text shorter than
 * twice the depth, or with fewer openers than the depth, cannot reach it and skips the scan.
 */
export function jsonDepthError(text: string, maxDepth: number): string | null {
  if (text.length <= maxDepth * 2 || openersAtMost(text, maxDepth)) return null
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return `JSON is nested deeper than ${maxDepth} levels`
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return null
}

/**
 * Whether elements nest deeper than `maxDepth`, by one linear scan of the tags (comments,
 * CDATA and processing instructions skipped), so deep input is refused before the validator
 * and the parser spend time on it. Not a validation: the parser still bounds the depth.
 */
export function xmlTooDeep(text: string, maxDepth: number): boolean {
  if (text.length <= maxDepth * 3) return false
  let depth = 0
  let at = text.indexOf('<')
  while (at !== -1) {
    const next = text.charCodeAt(at + 1)
    if (text.startsWith('<!--', at)) {
      at = skipPast(text, '-->', at)
    } else if (text.startsWith('<![CDATA[', at)) {
      at = skipPast(text, ']]>', at)
    } else if (next === 0x3f /* ? */ || next === 0x21 /* ! */) {
      at = skipPast(text, '>', at)
    } else if (next === 0x2f /* / */) {
      depth--
      at = skipPast(text, '>', at)
    } else {
      const end = text.indexOf('>', at)
      if (end === -1) return false
      if (text.charCodeAt(end - 1) !== 0x2f && ++depth > maxDepth) return true
      at = end + 1
    }
    if (at === -1) return false
    at = text.indexOf('<', at)
  }
  return false
}

function skipPast(text: string, marker: string, from: number): number {
  const end = text.indexOf(marker, from)
  return end === -1 ? -1 : end + marker.length
}

/**
 * Whether the text holds at most `max` of `[` and `{` in all: then it cannot nest deeper. A
 * few native indexOf jumps, so the common body skips the character-by-character scan.
 */
function openersAtMost(text: string, max: number): boolean {
  let count = 0
  for (const opener of ['[', '{']) {
    for (let at = text.indexOf(opener); at !== -1; at = text.indexOf(opener, at + 1)) if (++count > max) return false
  }
  return true
}

const structureParser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: true,
  parseTagValue: false,
  commentPropName: '#comment',
  processEntities: false,
  maxNestedTags: MAX_XML_DEPTH,
})

/**
 * What XMLValidator lets through although it is not well-formed: a document must have exactly
 * one root element, but the validator accepts more when one is self-closing (`<a/><b/>`), and
 * text after a self-closing root (`<a/>text`). The parse also bounds the nesting depth.
 */
function rootError(body: string): string | null {
  if (!body.trimEnd().endsWith('>')) return 'body is not well-formed XML: text after the root element'
  const nodes = structureParser.parse(body) as Record<string, unknown>[]
  const roots = nodes.filter((node) => {
    const name = Object.keys(node)[0]
    return name !== undefined && !name.startsWith('?') && name !== '#comment' && name !== '#text'
  }).length
  return roots === 1 ? null : `body is not well-formed XML: it has ${roots} root elements, not one`
}

/** A parser's exception as a client error. */
function xmlParserError(error: unknown): string {
  const message = errorMessage(error)
  if (/nested tags/i.test(message)) return `body is not accepted: XML is nested deeper than ${MAX_XML_DEPTH} elements`
  if (error instanceof RangeError) return 'body is not accepted: XML is too deeply nested or too large to check'
  return `body is not accepted as XML: ${message}`
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

const xmlParser = new XMLParser({ignoreAttributes: true, parseTagValue: false, processEntities: false, maxNestedTags: MAX_XML_DEPTH})

/**
 * The topic a PAD-protocol body names: the JSON `Topic` field or the XML `<Topic>` element
 * (the seed's publisher puts it there), searched at the top level and one level down. Null
 * when there is none or the body is not valid; never throws.
 */
export function topicFromBody(format: Format, body: string): string | null {
  try {
    if (format === 'JSON') return jsonDepthError(body, MAX_JSON_DEPTH) ? null : findTopic(JSON.parse(body), 2)
    if (format === 'XML') return DECLARATION.test(body) ? null : findTopic(xmlParser.parse(body), 3)
  } catch {
    return null
  }
  return null
}

function findTopic(value: unknown, depth: number): string | null {
  if (value === null || typeof value !== 'object' || depth === 0) return null
  const record = value as Record<string, unknown>
  for (const key of ['Topic', 'topic']) {
    const topic = record[key]
    if (typeof topic === 'string' && topic.trim() !== '') return topic.trim()
  }
  for (const child of Object.values(record)) {
    const topic = findTopic(child, depth - 1)
    if (topic) return topic
  }
  return null
}
