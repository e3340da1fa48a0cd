/**
 * What every benchmark row records besides its figures, so that rows taken on different days,
 * commits and machines can be told apart: the run, the software on both ends (as the peers'
 * lines name theirs), the git commit, and the machine (cores, and how long an fsync takes on
 * the disk the nodes write to: the floor of every acknowledged publish).
 */
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {median} from './stats.js'
import {round3} from './latency.js'

export interface RunInfo {
  /** When the run started, as the peers write it: 20261127T065900Z. */
  run: string
  server: string
  client: string
  /** HEAD of the git checkout pad-cli runs from, or null (not a checkout, or git is missing). */
  commit: string | null
  cores: number
  /** Median time of a few fsyncs of a small file in `fsync_dir`, in ms. */
  fsync_ms: number | null
  fsync_dir: string
}

export function runInfo(options: {root: string; version: string; dataDir: string | null; startedAt?: Date}): RunInfo {
  const dir = options.dataDir ?? os.tmpdir()
  return {
    run: (options.startedAt ?? new Date()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z'),
    server: `pad-cli ${options.version}`,
    client: `pad-cli BrokerClient ${options.version} (Node ${process.versions.node})`,
    commit: gitCommit(options.root),
    cores: os.availableParallelism(),
    fsync_ms: fsyncMs(dir),
    fsync_dir: dir,
  }
}

/** HEAD of `root` when it is a git checkout itself (not a folder inside someone else's), else null. */
export function gitCommit(root: string): string | null {
  if (!fs.existsSync(path.join(root, '.git'))) return null
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], {cwd: root, timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8'}).trim()
    return /^[0-9a-f]{40}$/.test(out) ? out : null
  } catch {
    return null
  }
}

/** The median of `samples` fsyncs of a 128-byte write to a new file in `dir`; null if `dir` cannot be written. */
export function fsyncMs(dir: string, samples = 5): number | null {
  let file: string | null = null
  let fd: number | null = null
  try {
    file = path.join(fs.mkdtempSync(path.join(dir, '.pad-fsync-')), 'probe')
    fd = fs.openSync(file, 'w')
    const block = Buffer.alloc(128, 'x')
    const times: number[] = []
    for (let i = 0; i < samples; i++) {
      fs.writeSync(fd, block, 0, block.length, 0)
      const t0 = performance.now()
      fs.fsyncSync(fd)
      times.push(performance.now() - t0)
    }
    return round3(median(times)!)
  } catch {
    return null
  } finally {
    if (fd !== null) fs.closeSync(fd)
    if (file) fs.rmSync(path.dirname(file), {recursive: true, force: true})
  }
}
