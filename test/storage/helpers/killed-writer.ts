/**
 * A database written as a node writes it (the DatabaseWriter: WAL, synchronous=FULL, its worker
 * thread, SQLite's automatic checkpoints), by a process of its own that is SIGKILLed while it
 * writes: what a crash, or the kill before a power cut, leaves on disk.
 */
import {spawn, type ChildProcessByStdio} from 'node:child_process'
import path from 'node:path'
import type {Readable} from 'node:stream'
import {fileURLToPath} from 'node:url'

/** Rows of about a page each: the file grows, and the WAL passes SQLite's checkpoint threshold (1,000 pages) every 20 writes. */
const ROWS_PER_WRITE = 50
const ROW_BYTES = 3000

/**
 * Writes batches into `dbFile` from a child process until `writes` have committed, then kills it
 * with SIGKILL while it goes on writing, and waits for it to be gone. Resolves with the writes
 * seen committed.
 */
export async function writeUntilKilled(dbFile: string, writes: number): Promise<number> {
  const moduleUrl = new URL('../../../src/storage/database-writer.ts', import.meta.url).href
  const script = `
    const {DatabaseWriter} = await import(${JSON.stringify(moduleUrl)})
    const w = await DatabaseWriter.open({path: process.argv[1], migrations: ['CREATE TABLE t (x BLOB)'], statements: {put: 'INSERT INTO t (x) VALUES (?)'}})
    const rows = Array.from({length: ${ROWS_PER_WRITE}}, (_, i) => [Buffer.alloc(${ROW_BYTES}, i)])
    // Bounded: the parent kills it long before.
    for (let i = 0; i < 100000; i++) {
      await w.write([{stmt: 'put', rows}])
      process.stdout.write('w\\n')
    }
  `
  const here = path.dirname(fileURLToPath(import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dbFile], {cwd: here, stdio: ['ignore', 'pipe', 'pipe']})
  const stdout = await killWhen(child, (out) => out.split('\n').length - 1 >= writes, `the writer child did not reach ${writes} writes`)
  const seen = stdout.split('\n').length - 1
  return seen
}

/**
 * Waits (bounded) until the child's stdout so far satisfies `ready`, then SIGKILLs it, as a power
 * cut or a crash would stop it, and waits until it is gone (its handles released). Resolves with
 * its stdout; rejects with `what` and its output if it exits first or takes longer than a minute.
 */
export async function killWhen(child: ChildProcessByStdio<null, Readable, Readable>, ready: (stdout: string) => boolean, what: string): Promise<string> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let stdout = ''
  let stderr = ''
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: ${stdout}${stderr}`)), 60_000)
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString()
        if (ready(stdout)) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      child.once('exit', () => {
        clearTimeout(timer)
        reject(new Error(`${what}: it exited early: ${stdout}${stderr}`))
      })
    })
  } finally {
    child.kill('SIGKILL')
    await exited
  }
  return stdout
}
