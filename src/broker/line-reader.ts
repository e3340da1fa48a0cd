/**
 * Splits a byte stream into `\n`-terminated lines with a size limit. A line over the limit
 * is skipped up to its newline and reported once, so one bad line never desynchronises the
 * stream or grows memory.
 */

export type LineEvent = {kind: 'line'; line: string} | {kind: 'tooLong'; bytes: number}

export class LineReader {
  private parts: Buffer[] = []
  private partBytes = 0
  private skipping = false
  private skipped = 0

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer, emit: (event: LineEvent) => void): void {
    let start = 0
    while (start < chunk.length) {
      const newline = chunk.indexOf(10, start)
      const end = newline === -1 ? chunk.length : newline
      const size = end - start
      if (this.skipping) {
        this.skipped += size
      } else if (this.partBytes + size > this.maxLineBytes) {
        this.skipping = true
        this.skipped = this.partBytes + size
        this.parts = []
        this.partBytes = 0
      } else if (newline !== -1) {
        const piece = chunk.subarray(start, end)
        let line: string
        if (this.parts.length === 0) {
          line = piece.toString('utf8')
        } else {
          this.parts.push(piece)
          line = Buffer.concat(this.parts).toString('utf8')
          this.parts = []
          this.partBytes = 0
        }
        emit({kind: 'line', line: line.endsWith('\r') ? line.slice(0, -1) : line})
      } else {
        // Copy: the chunk's memory may be reused by the socket.
        this.parts.push(Buffer.from(chunk.subarray(start, end)))
        this.partBytes += size
      }
      if (newline === -1) return
      if (this.skipping) {
        emit({kind: 'tooLong', bytes: this.skipped})
        this.skipping = false
        this.skipped = 0
      }
      start = newline + 1
    }
  }

  /** Bytes of an unfinished line held so far. */
  get pending(): number {
    return this.partBytes
  }
}
