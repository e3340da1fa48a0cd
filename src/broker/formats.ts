/**
 * Message formats and their validation: JSON bodies must parse, XML bodies must be
 * well-formed, RAW is anything.
 */
import {XMLParser, XMLValidator} from 'fast-xml-parser'

export const FORMATS = ['JSON', 'XML', 'RAW'] as const
export type Format = (typeof FORMATS)[number]

export function parseFormat(value: unknown): Format | null {
  if (typeof value !== 'string') return null
  const upper = value.toUpperCase()
  return (FORMATS as readonly string[]).includes(upper) ? (upper as Format) : null
}

/** Returns a reason when `body` is not valid for `format`, else null. */
export function bodyError(format: Format, body: string): string | null {
  if (format === 'JSON') {
    try {
      JSON.parse(body)
      return null
    } catch (error) {
      return `body is not valid JSON: ${(error as Error).message}`
    }
  }
  if (format === 'XML') {
    if (body.trim() === '') return 'body is not well-formed XML: it is empty'
    const result = XMLValidator.validate(body)
    if (result !== true) return `body is not well-formed XML: ${result.err.msg} (line ${result.err.line}, column ${result.err.col})`
    return rootError(body)
  }
  return null
}

const structureParser = new XMLParser({preserveOrder: true, ignoreAttributes: true, parseTagValue: false, commentPropName: '#comment'})

/**
 * What XMLValidator lets through although it is not well-formed: a document must have exactly
 * one root element, but the validator accepts more when one is self-closing (`<a/><b/>`), and
 * text after a self-closing root (`<a/>text`).
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

const xmlParser = new XMLParser({ignoreAttributes: true, parseTagValue: false})

/**
 * The topic a PAD-protocol body names: the JSON `Topic` field or the XML `<Topic>` element
 * (the seed's publisher puts it there), searched at the top level and one level down.
 */
export function topicFromBody(format: Format, body: string): string | null {
  try {
    if (format === 'JSON') return findTopic(JSON.parse(body), 2)
    if (format === 'XML') return findTopic(xmlParser.parse(body), 3)
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
