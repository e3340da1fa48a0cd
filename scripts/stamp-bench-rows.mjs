#!/usr/bin/env node
// Records on every row of a benchmark results file (JSON lines) what it was measured with: the git
// commit and the machine (cores, and the p50 of a 128-byte O_DSYNC write: the disk's fsync time,
// which bounds every acknowledged publish). Each line gains, at its end,
//   "commit": "<sha>" | null, "machine": {"cores": N, "fsync_p50_ms": X | null, "note"?: "..."}
// and is otherwise left byte for byte as it was; a line that already has "commit" is left alone.
//   node scripts/stamp-bench-rows.mjs [--commit SHA|null] [--cores N] [--fsync-ms X|null|floor]
//                                     [--note TEXT] [--where KEY=VALUE] FILE...
// --commit: default `git rev-parse --short HEAD`, with "-dirty" when the working tree has changes.
// --cores: default this machine's. --fsync-ms floor: the median dsync_write_p50_ms of the file's own
// latency-floor rows (scripts/latency-floor.mjs), null if it has none. --where: only rows whose KEY
// has that value (as a string), e.g. --where build=before.
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'

function parseArgs(argv) {
  const opts = {files: []}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) opts.files.push(a)
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) opts[a.slice(2)] = argv[++i]
    else throw new Error(`${a} needs a value`)
  }
  return opts
}

function headCommit() {
  const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {encoding: 'utf8'}).trim()
  const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {encoding: 'utf8'}).trim() !== ''
  return dirty ? `${sha}-dirty` : sha
}

function median(xs) {
  const v = [...xs].sort((a, b) => a - b)
  if (v.length === 0) return null
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2
}

/** A number, null, or (for --fsync-ms floor) the median of the file's own latency-floor rows. */
function fsyncOf(spec, rows) {
  if (spec === undefined || spec === 'null') return null
  if (spec === 'floor') return median(rows.filter((r) => r.system === 'latency-floor' && typeof r.dsync_write_p50_ms === 'number').map((r) => r.dsync_write_p50_ms))
  const x = Number(spec)
  if (!Number.isFinite(x) || x < 0) throw new Error(`--fsync-ms must be a number of ms, null or floor, not ${spec}`)
  return x
}

function main() {
  const opts = parseArgs(process.argv.slice(2))
  if (opts.files.length === 0) throw new Error('no file given')
  const commit = opts.commit === 'null' ? null : (opts.commit ?? headCommit())
  const cores = opts.cores === undefined ? os.availableParallelism() : Number(opts.cores)
  if (!Number.isInteger(cores) || cores < 1) throw new Error(`--cores must be a positive integer, not ${opts.cores}`)
  const [whereKey, whereValue] = opts.where === undefined ? [] : opts.where.split('=')
  for (const file of opts.files) {
    const lines = fs.readFileSync(file, 'utf8').split('\n')
    const rows = lines.map((l) => (l.trim() === '' ? null : JSON.parse(l)))
    const machine = {cores, fsync_p50_ms: fsyncOf(opts['fsync-ms'], rows.filter(Boolean))}
    if (opts.note !== undefined) machine.note = opts.note
    const stamp = `, "commit": ${JSON.stringify(commit)}, "machine": ${JSON.stringify(machine)}}`
    let stamped = 0
    const out = lines.map((line, i) => {
      const row = rows[i]
      if (row === null || 'commit' in row) return line
      if (whereKey !== undefined && String(row[whereKey]) !== whereValue) return line
      stamped++
      // append before the closing brace, so the measured values keep their exact text
      return line.replace(/\}\s*$/, stamp)
    })
    fs.writeFileSync(file, out.join('\n'))
    console.error(`${file}: ${stamped} row(s) stamped with commit ${commit}, ${JSON.stringify(machine)}`)
  }
}

try {
  main()
} catch (error) {
  console.error(`stamp-bench-rows: ${error.message}`)
  process.exit(2)
}
