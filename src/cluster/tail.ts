/**
 * Reading a growing text file line by line, as `tail -f` does: polls its size (fs.watch
 * misses events on some file systems), hands out each complete line once, and starts over
 * when the file is truncated or replaced.
 */
import fs from 'node:fs'

export class LineFollower {
  private position: number
  private partial = ''
  private inode: number | null = null
  private timer: NodeJS.Timeout | null = null

  /** `fromStart`: read what the file already holds too; else only what is appended later. */
  constructor(
    readonly file: string,
    private readonly onLine: (line: string) => void,
    fromStart = false,
  ) {
    const stat = statOrNull(file)
    this.inode = stat?.ino ?? null
    this.position = fromStart || !stat ? 0 : stat.size
  }

  /** Reads what is new now. */
  poll(): void {
    const stat = statOrNull(this.file)
    if (!stat) return
    if (stat.ino !== this.inode || stat.size < this.position) {
      // Replaced or truncated: read the new content from its start.
      this.inode = stat.ino
      this.position = 0
      this.partial = ''
    }
    if (stat.size === this.position) return
    const fd = fs.openSync(this.file, 'r')
    try {
      const length = Math.min(stat.size - this.position, 4 * 1024 * 1024)
      const buffer = Buffer.alloc(length)
      const read = fs.readSync(fd, buffer, 0, length, this.position)
      this.position += read
      const text = this.partial + buffer.subarray(0, read).toString('utf8')
      const lines = text.split('\n')
      this.partial = lines.pop()!
      for (const line of lines) this.onLine(line)
    } finally {
      fs.closeSync(fd)
    }
  }

  start(intervalMs = 200): this {
    this.poll()
    this.timer ??= setInterval(() => this.poll(), intervalMs)
    return this
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }
}

/** Every line of a file (none if it does not exist). */
export function readLines(file: string): string[] {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  return lines
}

function statOrNull(file: string): fs.Stats | null {
  try {
    return fs.statSync(file)
  } catch {
    return null
  }
}

/**
 * The last non-empty lines of a file, at most `maxLines` of them and `maxBytes` in all: only
 * the file's last `maxBytes` are read, so a huge log costs no more than a small one. None if
 * the file is missing.
 */
export function tailLines(file: string, maxLines: number, maxBytes: number): string[] {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch {
    return []
  }
  let text: string
  let cut: boolean
  try {
    const size = fs.fstatSync(fd).size
    const length = Math.min(size, maxBytes)
    const buffer = Buffer.alloc(length)
    const read = fs.readSync(fd, buffer, 0, length, size - length)
    text = buffer.subarray(0, read).toString('utf8')
    cut = size > length
  } finally {
    fs.closeSync(fd)
  }
  const lines = text.split('\n')
  // What was read may begin in the middle of a line: that part is dropped, unless it is all there is.
  if (cut && lines.length > 1) lines.shift()
  return lines.filter((line) => line.trim() !== '').slice(-maxLines)
}
