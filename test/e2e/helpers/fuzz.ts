/** Seeded generators of hostile client input for the front-end fuzz tests. */
import {mulberry32} from '../../../src/chaos/random.js'


export class Fuzz {
  readonly next: () => number

  constructor(readonly seed: number) {
    this.next = mulberry32(seed)
  }

  int(below: number): number {
    return Math.floor(this.next() * below)
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]
  }

  /** Bodies that are well-formed-looking but built to hurt parsers. */
  hostileBody(): {format: string; body: string} {
    const depth = this.pick([150, 1000, 20_000])
    return this.pick([
      {format: 'XML', body: '<a>'.repeat(depth) + '</a>'.repeat(depth)},
      {format: 'XML', body: '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'},
      {format: 'XML', body: '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;&b;&b;</r>'},
      {format: 'XML', body: '<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:1/x.dtd"><r/>'},
      {format: 'JSON', body: '['.repeat(depth) + ']'.repeat(depth)},
      {format: 'JSON', body: '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)},
      {format: 'JSON', body: '{"Topic":"x","v":"\u0000\u0001"}'},
      {format: 'XML', body: '<r>\u0000</r>'},
      {format: 'JSON', body: ''},
      {format: 'XML', body: '<'},
      {format: 'XML', body: '<a>'.repeat(depth)},
      {format: 'JSON', body: '['.repeat(depth)},
    ])
  }

  /** `text` with a few random bytes flipped, cut, duplicated or inserted. */
  mutate(text: string): Buffer {
    let bytes = Buffer.from(text)
    const edits = 1 + this.int(4)
    for (let i = 0; i < edits && bytes.length > 0; i++) {
      const at = this.int(bytes.length)
      switch (this.int(6)) {
        case 0:
          bytes[at] = this.int(256)
          break
        case 1:
          bytes = bytes.subarray(0, at)
          break
        case 2:
          bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([this.pick([0x00, 0xff, 0xc3, 0x80, 0x22, 0x7b, 0x3c, 0x7c])]), bytes.subarray(at)])
          break
        case 3:
          bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, at + 1 + this.int(8)), bytes.subarray(at)])
          break
        case 4:
          bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + this.int(4))])
          break
        default:
          bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(this.pick(['[', '{', '<a>', '"', '\\', '\u0000', '</', ']]>'])), bytes.subarray(at)])
      }
    }
    return bytes
  }
}
