/**
 * The field readers the decoders of a node's answers share (node-event-codec.ts,
 * raft-log-codec.ts): each reads one field of a parsed JSON object and throws a Refusal that
 * names it when it is not what the contract says.
 */

/** Thrown inside a decoder only; the decoder turns it into `{ok: false, message}`. */
export class Refusal extends Error {}

export type Raw = Record<string, unknown>

export function count(raw: Raw, name: string): number {
  const value = raw[name]
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Refusal(`${name} is not a count`)
  return value
}
