/**
 * End-to-end tests of the cluster manager drive the real `pad-cli` binary (the build, through
 * bin/run.js: see cliArgs) in a temporary PAD_HOME, on ports picked free for each test.
 * Every command and every wait is bounded; `cleanup` brings the cluster down and then makes
 * sure, by pid, that none of its processes is left, also after a failed test.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {execa} from 'execa'
import {expect} from 'chai'
import type {ClusterEvent} from '../../src/cluster/events.js'
import {getRaft, type RaftInfo} from '../../src/client/raft-state.js'
import {portFree} from '../../src/cluster/ports.js'
import {isAlive, isOurProcess, signal, waitForExit} from '../../src/cluster/process-util.js'
import type {ClusterStatus, NodeStatus} from '../../src/cluster/status.js'
import {REPO_ROOT, cliArgs, eventually as pollUntil} from './helpers/node-process.js'

export const HOST = '127.0.0.1'
const COMMAND_TIMEOUT_MS = 60_000

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

let counter = 0

export class CliCluster {
  readonly home: string
  readonly name: string
  /** Every pid seen during the test (supervisor and nodes), checked at cleanup. */
  private readonly pids = new Set<number>()
  private readonly transcript: string[] = []

  private constructor(
    readonly size: number,
    readonly ports: {tcp: number; http: number; raft: number},
  ) {
    this.home = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-cluster-e2e-'))
    this.name = `t${process.pid}x${++counter}`
  }

  /** A cluster of `size` nodes on three free port ranges (not started). */
  static async create(size = 3): Promise<CliCluster> {
    const ports = await freeBases(size)
    return new CliCluster(size, ports)
  }

  get dir(): string {
    return path.join(this.home, this.name)
  }

  /** --cluster and the port bases, for `up`. */
  upFlags(): string[] {
    return [
      '--cluster', this.name,
      '--nodes', String(this.size),
      '--tcp-port', String(this.ports.tcp),
      '--http-port', String(this.ports.http),
      '--raft-port', String(this.ports.raft),
    ]
  }

  /** Runs `pad-cli <args> --cluster <name>` (unless `cluster: false`); never throws on a non-zero exit. */
  async run(args: string[], options: {cluster?: boolean; timeoutMs?: number} = {}): Promise<CliResult> {
    const full = options.cluster === false ? args : [...args, '--cluster', this.name]
    const started = Date.now()
    const result = await execa(process.execPath, cliArgs(...full), {
      cwd: REPO_ROOT,
      env: {PAD_HOME: this.home, NO_COLOR: '1'},
      reject: false,
      timeout: options.timeoutMs ?? COMMAND_TIMEOUT_MS,
      stdin: 'ignore',
      stripFinalNewline: false,
    })
    const out: CliResult = {code: result.exitCode ?? -1, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '')}
    this.transcript.push(`$ pad-cli ${full.join(' ')}   (${Date.now() - started} ms, exit ${out.code}${result.timedOut ? ', TIMED OUT' : ''})\n${out.stdout}${out.stderr ? `\n[stderr] ${out.stderr}` : ''}`)
    this.rememberPids()
    return out
  }

  /** Runs a command that must succeed. */
  async ok(args: string[], options: {cluster?: boolean; timeoutMs?: number} = {}): Promise<string> {
    const result = await this.run(args, options)
    expect(result.code, `pad-cli ${args.join(' ')} failed: ${result.stderr}`).to.equal(0)
    return result.stdout
  }

  /** Runs a command that must fail with `code`, printing one line on stderr; returns that line. */
  async fails(args: string[], code = 1, options: {cluster?: boolean} = {}): Promise<string> {
    const result = await this.run(args, options)
    expect(result.code, `pad-cli ${args.join(' ')} should fail: ${result.stdout}`).to.equal(code)
    const lines = result.stderr.trim().split('\n')
    expect(lines, `stderr: ${result.stderr}`).to.have.length(1)
    expect(result.stderr).to.not.match(/\n\s+at /)
    return lines[0]
  }

  async status(): Promise<ClusterStatus> {
    const status = JSON.parse(await this.ok(['status', '--json'])) as ClusterStatus
    for (const node of status.nodes) if (node.pid !== null) this.pids.add(node.pid)
    this.pids.add(status.supervisor_pid)
    return status
  }

  async events(): Promise<ClusterEvent[]> {
    const out = await this.ok(['events', '--json'])
    return out
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as ClusterEvent)
  }

  /** GET /raft of node i, straight from the node (null if it does not answer). */
  async raft(index: number, timeoutMs = 500): Promise<RaftInfo | null> {
    try {
      return await getRaft({host: HOST, http_port: this.ports.http + index}, timeoutMs)
    } catch {
      return null
    }
  }

  /** Every pid of this cluster seen so far, alive or not. */
  knownPids(): number[] {
    this.rememberPids()
    return [...this.pids]
  }

  /** Pids of this cluster still alive (checked against the command line, so never a stranger). */
  livePids(): number[] {
    return this.knownPids().filter((pid) => isAlive(pid) && isOurProcess(pid, [this.home]))
  }

  /** `down --purge` (bounded), then SIGKILL to anything of ours that is left; removes PAD_HOME. */
  async cleanup(): Promise<void> {
    try {
      if (fs.existsSync(this.dir)) await this.run(['down'], {timeoutMs: 40_000})
    } finally {
      for (const pid of this.livePids()) signal(pid, 'SIGKILL')
      for (const pid of this.knownPids()) await waitForExit(pid, 3000)
      fs.rmSync(this.home, {recursive: true, force: true})
    }
  }

  /** What happened, for a failed test: the commands, the supervisor log, the timeline, the node logs' ends. */
  report(): string {
    const tail = (file: string, lines: number): string => {
      try {
        return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
      } catch {
        return '(none)'
      }
    }
    const parts = [`=== PAD_HOME ${this.home}, cluster ${this.name}`, ...this.transcript]
    parts.push(`--- supervisor.log\n${tail(path.join(this.dir, 'supervisor.log'), 40)}`)
    parts.push(`--- events.jsonl\n${tail(path.join(this.dir, 'events.jsonl'), 60)}`)
    for (let i = 0; i < this.size; i++) parts.push(`--- node-${i}/node.log\n${tail(path.join(this.dir, `node-${i}`, 'node.log'), 25)}`)
    return parts.join('\n')
  }

  private rememberPids(): void {
    try {
      const state = JSON.parse(fs.readFileSync(path.join(this.dir, 'cluster.json'), 'utf8')) as {supervisor: {pid: number} | null; nodes: {pid: number | null}[]}
      if (state.supervisor) this.pids.add(state.supervisor.pid)
      for (const node of state.nodes) if (node.pid !== null) this.pids.add(node.pid)
    } catch {
      // Not written yet, or purged.
    }
  }
}

/** Registers hooks that print the report of a failed test and always clean up. */
export function clusterHooks(get: () => CliCluster | null): void {
  afterEach(async function () {
    const cluster = get()
    if (!cluster) return
    if (this.currentTest?.state === 'failed' || process.env.PAD_E2E_REPORT) console.error(cluster.report())
    await cluster.cleanup()
  })
}

/** Three port bases with `size` free ports each, picked at random away from the defaults. */
async function freeBases(size: number): Promise<{tcp: number; http: number; raft: number}> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below the ephemeral range (32768+ on Linux), where the OS hands out ports to other tests.
    const base = 20_000 + Math.floor(Math.random() * 250) * 50
    const bases = {tcp: base, http: base + 16, raft: base + 32}
    const ports = [bases.tcp, bases.http, bases.raft].flatMap((b) => Array.from({length: size}, (_, i) => b + i))
    const free = await Promise.all(ports.map((p) => portFree(HOST, p)))
    if (free.every(Boolean)) return bases
  }
  throw new Error('no free port ranges found')
}

/** Polls `check` until it returns a value other than undefined; bounded in time and count. */
export function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  return pollUntil(what, check, timeoutMs, intervalMs)
}

/** The documented shape of `status --json`. */
export function expectStatusShape(status: ClusterStatus, name: string, size: number): void {
  expect(status).to.include.keys('cluster', 'leader', 'term', 'supervisor_pid', 'nodes')
  expect(status.cluster).to.equal(name)
  expect(status.supervisor_pid).to.be.a('number')
  expect(status.leader === null || Number.isInteger(status.leader)).to.equal(true)
  expect(status.nodes).to.have.length(size)
  status.nodes.forEach((node: NodeStatus, i) => {
    expect(node).to.include.keys(
      'index', 'node_id', 'pid', 'process', 'exit_code', 'exit_signal', 'crash_log', 'restart_at', 'role', 'term', 'commit_index', 'last_applied',
      'log_length', 'lag', 'leader_index', 'host', 'tcp_port', 'http_port', 'raft_port', 'faults', 'data_dir', 'log_file',
    )
    expect(node.index).to.equal(i)
    expect(node.node_id).to.equal(`${node.host}:${node.tcp_port}`)
    expect(['starting', 'running', 'paused', 'stopped', 'exited', 'crashed']).to.include(node.process)
    expect(node.crash_log).to.be.an('array')
    if (node.process !== 'crashed') expect(node.crash_log).to.deep.equal([])
    expect(node.faults).to.be.an('array')
    if (node.process === 'running') {
      expect(node.pid).to.be.a('number')
      expect(['LEADER', 'FOLLOWER', 'CANDIDATE']).to.include(node.role)
      for (const key of ['term', 'commit_index', 'last_applied', 'log_length'] as const) expect(node[key]).to.be.a('number')
    } else {
      expect(node.role).to.equal(null)
    }
    if (node.process === 'stopped' || node.process === 'exited' || node.process === 'crashed') expect(node.pid).to.equal(null)
  })
  if (status.leader !== null) {
    expect(status.nodes[status.leader].role).to.equal('LEADER')
    expect(status.term).to.equal(status.nodes[status.leader].term)
  }
}

/** The documented shape of every `events --json` line. */
export function expectEventShape(event: ClusterEvent): void {
  expect(event.time).to.be.a('string')
  expect(Number.isNaN(Date.parse(event.time))).to.equal(false)
  expect(event.seq).to.be.a('number')
  expect(event.type).to.be.a('string')
  const fields: Record<string, string[]> = {
    up: ['nodes', 'supervisor_pid'],
    start: ['node', 'pid'],
    exit: ['node', 'pid', 'code', 'signal', 'expected', 'crashed'],
    kill: ['node', 'pid'],
    stop: ['node', 'pid'],
    pause: ['node', 'pid'],
    resume: ['node', 'pid'],
    partition: ['groups', 'shape', 'bridge', 'cuts', 'for_ms'],
    delay: ['node', 'ms', 'jitter_ms', 'for_ms'],
    loss: ['node', 'percent', 'for_ms'],
    heal: ['reason', 'what'],
    transfer: ['from', 'to'],
    role: ['node', 'role', 'term'],
    election: ['term', 'winner', 'node_id'],
    leader: ['leader', 'previous', 'term'],
    recovered: ['supervisor_pid', 'killed'],
    'member-add': ['node', 'pid', 'leader', 'via'],
    'member-promote': ['node', 'index', 'leader', 'ms'],
    'member-remove': ['node', 'index', 'leader', 'was_leader'],
  }
  if (fields[event.type]) expect(event, event.type).to.include.keys(...fields[event.type])
}
