// Benchmark of the write queue alone: node --import tsx test/storage/bench-writer.ts [seconds per run]
// Prints rows/s, batch sizes and latencies for:
//   - 256 concurrent writers, each writing one 128-byte row and waiting for it before the next;
//   - one writer, one row at a time (the latency floor: one fsync per write);
//   - batched ops: 16 concurrent writers of 256 rows per request.
// A benchmark prints numbers; it asserts nothing.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {performance} from 'node:perf_hooks'

import {DatabaseWriter, type SqlValue} from '../../src/storage/database-writer.js'

const seconds = Number(process.argv[2] ?? 3)
const BODY_BYTES = 128

const MIGRATIONS = ['CREATE TABLE messages (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, body BLOB NOT NULL)']
const STATEMENTS = {insert: 'INSERT INTO messages (id, topic, body) VALUES (?, ?, ?)'}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

async function run(name: string, writers: number, rowsPerWrite: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-bench-writer-'))
  try {
    const writer = await DatabaseWriter.open({path: path.join(dir, 'bench.db'), migrations: MIGRATIONS, statements: STATEMENTS})
    const body = new Uint8Array(BODY_BYTES).fill(0x61)
    let nextId = 1
    let rows = 0
    const latencies: number[] = []
    const deadline = performance.now() + seconds * 1000
    const client = async () => {
      while (performance.now() < deadline) {
        const batch: SqlValue[][] = []
        for (let i = 0; i < rowsPerWrite; i++) batch.push([nextId++, 'bench', body])
        const start = performance.now()
        await writer.write([{stmt: 'insert', rows: batch}])
        latencies.push(performance.now() - start)
        rows += rowsPerWrite
      }
    }
    const start = performance.now()
    await Promise.all(Array.from({length: writers}, client))
    const elapsed = (performance.now() - start) / 1000
    const m = writer.metrics()
    await writer.close()
    latencies.sort((a, b) => a - b)
    const f = (ms: number) => ms.toFixed(3)
    console.log(
      `${name.padEnd(34)} ${Math.round(rows / elapsed)
        .toString()
        .padStart(8)} rows/s  ${Math.round(m.requests / elapsed)
        .toString()
        .padStart(7)} writes/s  ` +
        `batch avg ${m.avgBatchSize.toFixed(1)} max ${m.maxBatchSize}  ` +
        `write latency p50 ${f(percentile(latencies, 0.5))} p99 ${f(percentile(latencies, 0.99))} ms  ` +
        `commit p50 ${f(m.commitLatencyMs.p50)} (txn ${f(m.txnLatencyMs.p50)}) ms`,
    )
  } finally {
    fs.rmSync(dir, {recursive: true, force: true})
  }
}

console.log(`DatabaseWriter, ${BODY_BYTES}-byte rows, WAL + synchronous=FULL, ${seconds} s per run, temp dir in ${os.tmpdir()}`)
await run('256 writers x 1 row', 256, 1)
await run('1 writer x 1 row (one at a time)', 1, 1)
await run('16 writers x 256 rows per write', 16, 256)
