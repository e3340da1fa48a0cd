// Benchmark of one node's transaction shape, on the real schema and statements:
//   node --import tsx test/storage/bench-node-schema.ts [variant] [batches]
// Each batch is what a follower writes per Ready under load: 256 Raft log entries of 170 bytes,
// the hard state, the 256 messages applied from the previous batch and the applied index, one
// write at a time. Prints messages/s and the process's CPU per message (both threads).
// Variants take parts away to show what each costs: base, noTopicIndex (without the
// (topic, raft_index) index), noMessages (no message rows written).
// A benchmark prints numbers; it asserts nothing.
import {entryChecksum, hardStateChecksum} from '../../src/storage/corruption.js'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {DatabaseWriter, type SqlValue, type WriteOp} from '../../src/storage/database-writer.js'
import {MIGRATIONS, STATEMENTS} from '../../src/storage/schema.js'

const variant = process.argv[2] ?? 'base'
const batches = Number(process.argv[3] ?? 400)
const ENTRIES = 256
const VARIANTS = ['base', 'noTopicIndex', 'noMessages']
if (!VARIANTS.includes(variant)) {
  console.error(`unknown variant ${variant}: use one of ${VARIANTS.join(', ')}`)
  process.exit(2)
}

let migrations = [...MIGRATIONS]
const statements: Record<string, string> = {...STATEMENTS}
if (variant === 'noTopicIndex') migrations = [MIGRATIONS[0]]
if (variant === 'noMessages') statements.insertMessage = 'SELECT ?, ?, ?, ?, ?, ?, ?'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-bench-schema-'))
try {
  const writer = await DatabaseWriter.open({path: path.join(dir, 'node.db'), migrations, statements})
  // Entries as a follower has them: slices of one network read.
  const frame = Buffer.alloc(ENTRIES * 170, 0x61)
  const body = 'x'.repeat(128)
  let index = 1
  let applied: SqlValue[][] = []
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let b = 0; b < batches; b++) {
    const entries: SqlValue[][] = []
    const messages: SqlValue[][] = []
    for (let i = 0; i < ENTRIES; i++, index++) {
      const data = frame.subarray(i * 170, (i + 1) * 170)
      entries.push([index, 1, 0, data, entryChecksum(index, 1, 0, data)])
      messages.push([index, 'bench', index - 1, 'RAW', body, Date.now(), null])
    }
    const ops: WriteOp[] = [{stmt: 'appendEntry', rows: entries}, {stmt: 'setHardState', rows: [[1, 0, index - 1, hardStateChecksum(1, 0, index - 1)]]}]
    if (applied.length > 0) ops.push({stmt: 'insertMessage', rows: applied}, {stmt: 'setApplied', rows: [[index - ENTRIES - 1]]})
    await writer.write(ops)
    applied = messages
  }
  const cpu = process.cpuUsage(cpu0)
  const wallMs = performance.now() - t0
  const n = batches * ENTRIES
  const us = (micros: number): string => (micros / n).toFixed(2)
  console.log(
    `${variant.padEnd(13)} ${Math.round((n / wallMs) * 1000).toString().padStart(7)} msg/s  cpu ${us(cpu.user + cpu.system)} us/msg ` +
      `(user ${us(cpu.user)}, sys ${us(cpu.system)})  ${(wallMs / batches).toFixed(2)} ms per transaction of ${ENTRIES} entries`,
  )
  await writer.close()
} finally {
  fs.rmSync(dir, {recursive: true, force: true})
}
