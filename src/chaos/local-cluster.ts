/**
 * A temporary cluster the chaos runner starts and owns: N `pad-cli node` processes with
 * `--peers`, a token file, and a folder of its own (`<dir>/node-<i>/` holds node i's
 * database and its log, node.log). Processes are signalled by the pids this object spawned,
 * never by name, and every wait is bounded. Network faults go through each node's
 * /admin/faults with the token.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import {adminRequest, dropsByNode, type ChaosCluster, type ChaosNode, type PartitionSpec} from './cluster.js'

/** How to run `pad-cli`: the executable and the arguments before the command name. */
export interface CliEntry {
  command: string
  args: string[]
}

/** The pad-cli running now (bin/run.js, or bin/dev.js with its --import tsx). */
export function currentCli(): CliEntry {
  const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--inspect') && !arg.startsWith('--debug'))
  return {command: process.execPath, args: [...execArgv, process.argv[1]]}
}

export interface LocalClusterOptions {
  nodes: number
  host: string
  tcpPort: number
  httpPort: number
  raftPort: number
  /** The cluster's folder; created if missing. */
  dir: string
  cli: CliEntry
  /** Node flags such as --election-timeout and --heartbeat. */
  nodeArgs?: string[]
  startTimeoutMs?: number
  stopGraceMs?: number
  log?: (line: string) => void
}

interface Slot {
  node: ChaosNode
  child: ChildProcess | null
  exited: Promise<void> | null
  paused: boolean
}

const START_TIMEOUT_MS = 30_000
const STOP_GRACE_MS = 10_000
const KILL_WAIT_MS = 5_000
const ADMIN_TIMEOUT_MS = 2_000

export class LocalCluster implements ChaosCluster {
  readonly nodes: ChaosNode[]
  readonly dir: string
  private readonly slots: Slot[]
  private readonly token: string
  private readonly tokenFile: string
  private readonly name: string

  private constructor(private readonly options: LocalClusterOptions) {
    this.dir = options.dir
    this.nodes = Array.from({length: options.nodes}, (_, index) => ({
      index,
      host: options.host,
      tcpPort: options.tcpPort + index,
      httpPort: options.httpPort + index,
      raftPort: options.raftPort + index,
    }))
    this.slots = this.nodes.map((node) => ({node, child: null, exited: null, paused: false}))
    this.token = crypto.randomBytes(24).toString('base64url')
    this.tokenFile = path.join(this.dir, 'token')
    this.name = `chaos-${crypto.randomBytes(4).toString('hex')}`
  }

  /** Checks the ports, starts every node, and waits until each serves HTTP (bounded). */
  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const cluster = new LocalCluster(options)
    const taken: string[] = []
    for (const node of cluster.nodes) {
      for (const [what, port] of [['TCP', node.tcpPort], ['HTTP', node.httpPort], ['Raft', node.raftPort]] as const) {
        if (!(await portFree(node.host, port))) taken.push(`${what} port ${port} (node ${node.index})`)
      }
    }
    if (taken.length > 0) {
      throw new Error(`cannot start the chaos cluster: ${taken.join(', ')} ${taken.length === 1 ? 'is' : 'are'} in use; choose other bases with --tcp-port, --http-port, --raft-port`)
    }
    fs.mkdirSync(cluster.dir, {recursive: true, mode: 0o700})
    fs.writeFileSync(cluster.tokenFile, cluster.token + '\n', {mode: 0o600})
    try {
      await Promise.all(cluster.nodes.map((n) => cluster.start(n.index)))
    } catch (error) {
      await cluster.close()
      throw error
    }
    return cluster
  }

  nodeDir(index: number): string {
    return path.join(this.dir, `node-${index}`)
  }

  logFile(index: number): string {
    return path.join(this.nodeDir(index), 'node.log')
  }

  pid(index: number): number | null {
    return this.slots[index].child?.pid ?? null
  }

  running(index: number): boolean {
    return this.slots[index].child !== null
  }

  async start(index: number): Promise<void> {
    const slot = this.slots[index]
    if (slot.child) return
    const node = slot.node
    const dataDir = path.join(this.nodeDir(index), 'data')
    fs.mkdirSync(dataDir, {recursive: true})
    const logFd = fs.openSync(this.logFile(index), 'a')
    const peers = this.nodes.map((n) => `${n.host}:${n.raftPort}`).join(',')
    const args = [
      ...this.options.cli.args,
      'node',
      '--host', node.host,
      '--tcp-port', String(node.tcpPort),
      '--http-port', String(node.httpPort),
      '--raft-port', String(node.raftPort),
      '--data-dir', dataDir,
      '--peers', peers,
      '--cluster', this.name,
      '--token-file', this.tokenFile,
      ...(this.options.nodeArgs ?? []),
    ]
    let child: ChildProcess
    try {
      child = spawn(this.options.cli.command, args, {stdio: ['ignore', logFd, logFd], env: {...process.env, PAD_TOKEN: ''}})
    } finally {
      fs.closeSync(logFd)
    }
    slot.child = child
    slot.paused = false
    let exitInfo: string | null = null
    slot.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = signal ? `signal ${signal}` : `code ${code}`
        if (slot.child === child) {
          slot.child = null
          slot.paused = false
        }
        resolve()
      })
      child.once('error', (error) => {
        exitInfo = error.message
        if (slot.child === child) slot.child = null
        resolve()
      })
    })
    this.options.log?.(`node ${index} started (pid ${child.pid})`)
    const deadline = Date.now() + (this.options.startTimeoutMs ?? START_TIMEOUT_MS)
    while (Date.now() < deadline) {
      if (exitInfo !== null) throw new Error(`node ${index} exited (${exitInfo}) while starting; see ${this.logFile(index)}:\n${tail(this.logFile(index))}`)
      try {
        const response = await fetch(`http://${node.host}:${node.httpPort}/health`, {signal: AbortSignal.timeout(1000)})
        await response.arrayBuffer()
        return
      } catch {
        await sleep(100)
      }
    }
    throw new Error(`node ${index} did not serve HTTP within ${this.options.startTimeoutMs ?? START_TIMEOUT_MS} ms; see ${this.logFile(index)}`)
  }

  async kill(index: number): Promise<void> {
    await this.signalAndWait(index, 'SIGKILL', KILL_WAIT_MS)
    if (this.slots[index].child) throw new Error(`node ${index} (pid ${this.pid(index)}) did not exit after SIGKILL`)
  }

  async stop(index: number): Promise<void> {
    const slot = this.slots[index]
    if (!slot.child) return
    // A stopped (SIGSTOP) process does not act on SIGTERM until it is continued.
    if (slot.paused) await this.resume(index)
    await this.signalAndWait(index, 'SIGTERM', this.options.stopGraceMs ?? STOP_GRACE_MS)
    if (slot.child) await this.kill(index)
  }

  async pause(index: number): Promise<void> {
    const slot = this.slots[index]
    if (!slot.child || slot.paused) return
    this.signal(slot, 'SIGSTOP')
    slot.paused = true
  }

  async resume(index: number): Promise<void> {
    const slot = this.slots[index]
    if (!slot.child || !slot.paused) return
    this.signal(slot, 'SIGCONT')
    slot.paused = false
  }

  async partition(spec: PartitionSpec, forMs: number): Promise<void> {
    const drops = dropsByNode(spec.cuts, this.nodes.length)
    const failures: string[] = []
    await Promise.all(
      drops.map(async (peers, index) => {
        if (peers.length === 0) return
        try {
          await adminRequest(this.nodes[index], this.token, 'PUT', '/admin/faults', {peers, drop: true, for_ms: Math.max(1, Math.round(forMs))}, ADMIN_TIMEOUT_MS)
        } catch (error) {
          failures.push((error as Error).message)
        }
      }),
    )
    if (failures.length > 0) throw new Error(`partition ${spec.name} not fully set: ${failures.join('; ')}`)
  }

  async delay(index: number, delayMs: number, jitterMs: number, forMs: number): Promise<void> {
    const body: Record<string, unknown> = {delay_ms: delayMs, for_ms: Math.max(1, Math.round(forMs))}
    if (jitterMs > 0) body.jitter_ms = jitterMs
    await adminRequest(this.nodes[index], this.token, 'PUT', '/admin/faults', body, ADMIN_TIMEOUT_MS)
  }

  async loss(index: number, share: number, forMs: number): Promise<void> {
    await adminRequest(this.nodes[index], this.token, 'PUT', '/admin/faults', {loss: share, for_ms: Math.max(1, Math.round(forMs))}, ADMIN_TIMEOUT_MS)
  }

  async heal(): Promise<void> {
    const failures: string[] = []
    await Promise.all(
      this.slots.map(async (slot) => {
        if (!slot.child || slot.paused) return
        try {
          await adminRequest(slot.node, this.token, 'DELETE', '/admin/faults', undefined, ADMIN_TIMEOUT_MS)
        } catch (error) {
          failures.push((error as Error).message)
        }
      }),
    )
    if (failures.length > 0) throw new Error(`heal failed: ${failures.join('; ')}`)
  }

  async restoreAll(): Promise<void> {
    for (const slot of this.slots) if (slot.child && slot.paused) await this.resume(slot.node.index)
    await Promise.all(this.slots.map((slot) => (slot.child ? Promise.resolve() : this.start(slot.node.index))))
    await this.heal()
  }

  /** Stops every node this object started (SIGTERM, then SIGKILL after the grace period). */
  async close(): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        if (!slot.child) return
        try {
          await this.stop(slot.node.index)
        } catch {
          // Already reported by kill(); nothing more we can do than having sent SIGKILL.
        }
      }),
    )
  }

  /** SIGKILLs every node now, synchronously: for an exit handler, when there is no time left. */
  killNow(): void {
    for (const slot of this.slots) {
      if (slot.paused) this.signal(slot, 'SIGCONT')
      this.signal(slot, 'SIGKILL')
    }
  }

  /** Removes the nodes' data and logs (the cluster folder stays, with what else is in it). */
  removeNodeData(): void {
    for (const node of this.nodes) fs.rmSync(this.nodeDir(node.index), {recursive: true, force: true})
    fs.rmSync(this.tokenFile, {force: true})
  }

  private signal(slot: Slot, signal: NodeJS.Signals): void {
    const pid = slot.child?.pid
    if (pid === undefined) return
    try {
      process.kill(pid, signal)
    } catch {
      // It has exited already; its exit event will say so.
    }
  }

  private async signalAndWait(index: number, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    const slot = this.slots[index]
    if (!slot.child) return
    const exited = slot.exited!
    this.signal(slot, signal)
    let timer: NodeJS.Timeout | undefined
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))])
    clearTimeout(timer)
    this.options.log?.(`node ${index} ${slot.child ? 'still running after' : 'exited on'} ${signal}`)
  }
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
