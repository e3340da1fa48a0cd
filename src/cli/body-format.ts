/**
 * The format of a body published without --format. Valid JSON is JSON and well-formed XML is
 * XML; anything else is RAW, except a body that looks like JSON or XML (it starts with `{`,
 * `[` or `<`) but does not parse: that one is sent as what it looks like, so the node's
 * refusal names the mistake instead of storing a typo as text.
 */
import {bodyError, type Format} from '../broker/formats.js'

export function detectFormat(body: string): Format {
  const first = body.trimStart()[0]
  if (first === '<') return 'XML'
  if (first === '{' || first === '[' || bodyError('JSON', body) === null) return 'JSON'
  return 'RAW'
}
