/**
 * Real `pad-cli node` processes for process-level tests.
 *
 * Each node runs the built pad-cli (`node bin/run.js node ...`, on dist/, which `npm test`
 * builds first) on ports the OS picked for this test, with a fresh temp data dir, on 127.0.0.1.
 * `start` returns once `/health` answers; every wait is bounded in count and time. Nodes are
 * stopped by pid (SIGTERM, then SIGKILL after a bound) by the hooks that `nodeFixture`
 * registers, also when the test failed; the node's output is printed when a test fails.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
export const HOST = '127.0.0.1'

const START_TIMEOUT_MS = 40_000
const HEALTH_POLL_MS = 50
const STOP_GRACE_MS = 8_000
const KILL_WAIT_MS = 3_000
const MAX_OUTPUT_CHARS = 256 * 1024

/** Every node process still running, killed by pid if the test process exits first. */
const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) {
    try {
      process.kill(child.pid!, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
})

/**
 * Test ports come from below the kernel's ephemeral range (32768-60999 on Linux, 49152 and up on
 * macOS): a port picked there by the kernel could be taken by any outgoing connection (the test's
 * own HTTP clients) while its node is stopped, and the node's restart would find it in use. Each
 * is handed out once per test process. (Clusters started through the CLI take port ranges from
 * 20000 up: cluster-helpers.ts freeBases.)
 */
const TEST_PORTS = {low: 10_000, high: 20_000}
const handedOut = new Set<number>()

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen(port, HOST, () => server.close(() => resolve(true)))
  })
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = TEST_PORTS.low + Math.floor(Math.random() * (TEST_PORTS.high - TEST_PORTS.low))
    if (handedOut.has(port)) continue
    if (await canListen(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free port between ${TEST_PORTS.low} and ${TEST_PORTS.high} in 500 tries`)
}

/** `count` free ports, all different: a port closed after the probe may be handed out again at once. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>()
  for (let attempt = 0; ports.size < count && attempt < count * 20; attempt++) ports.add(await freePort())
  if (ports.size < count) throw new Error(`could not find ${count} different free ports`)
  return [...ports]
}

export function tempDir(prefix = 'pad-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/**
 * Argument list (for `process.execPath`) that runs a pad-cli command: the built one, as it is
 * installed. It starts in half the time of bin/dev.js under tsx, which compiles the sources in
 * every process; `npm test` builds dist/ first, and `assertBuildCurrent` refuses a stale one.
 */
export function cliArgs(...args: string[]): string[] {
  assertBuildCurrent()
  return [path.join(REPO_ROOT, 'bin/run.js'), ...args]
}

let buildChecked = false

/**
 * Throws unless every source file has its compiled file in dist/, written after it: a test
 * that runs processes must never run an older build than the sources it is checked against.
 * (A single test file run with mocha does not build; `npm run build` does.)
 */
export function assertBuildCurrent(): void {
  if (buildChecked) return
  const stale: string[] = []
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(path.join(REPO_ROOT, dir), {withFileTypes: true})) {
      const relative = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(relative)
      else if (entry.name.endsWith('.ts')) {
        const built = path.join(REPO_ROOT, 'dist', path.relative('src', relative).replace(/\.ts$/, '.js'))
        const builtAt = fs.statSync(built, {throwIfNoEntry: false})?.mtimeMs ?? -1
        if (builtAt < fs.statSync(path.join(REPO_ROOT, relative)).mtimeMs) stale.push(relative)
      }
    }
  }
  walk('src')
  if (stale.length > 0) throw new Error(`dist/ is older than ${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ` and ${stale.length - 3} more` : ''}: run \`npm run build\` (npm test does)`)
  buildChecked = true
}

export interface Ports {
  tcp: number
  http: number
  raft: number
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface StartOptions {
  /** Data dir to use (for a restart or a shared dir); default: a fresh temp dir. */
  dataDir?: string
  /** Ports to use; default: free ports picked now. */
  ports?: Ports
  /** More flags for `pad-cli node`. */
  args?: string[]
  /** When false, `start` does not wait for /health (for tests of failing starts). */
  waitHealthy?: boolean
}

export class NodeProcess {
  private out = ''
  readonly exited: Promise<Exit>
  private exitInfo: Exit | null = null

  constructor(
    readonly child: ChildProcess,
    readonly ports: Ports,
    readonly dataDir: string,
    readonly args: string[],
  ) {
    const capture = (stream: string) => (chunk: Buffer) => {
      this.out += stream === 'err' ? chunk.toString('utf8').replace(/^/gm, '[stderr] ') : chunk.toString('utf8')
      if (this.out.length > MAX_OUTPUT_CHARS) this.out = this.out.slice(-MAX_OUTPUT_CHARS)
    }
    child.stdout?.on('data', capture('out'))
    child.stderr?.on('data', capture('err'))
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = {code, signal}
        resolve(this.exitInfo)
      })
    })
  }

  get pid(): number {
    return this.child.pid!
  }

  get running(): boolean {
    return this.exitInfo === null
  }

  /** Everything the node wrote so far (stderr lines prefixed with `[stderr] `). */
  get output(): string {
    return this.out
  }

  url(pathAndQuery: string): string {
    return `http://${HOST}:${this.ports.http}${pathAndQuery}`
  }

  /** Resolves once /health answers 200 and ready; throws with the node's output if it does not. */
  async waitHealthy(timeoutMs = START_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs
    const attempts = Math.ceil(timeoutMs / HEALTH_POLL_MS)
    for (let attempt = 0; attempt < attempts && Date.now() < deadline; attempt++) {
      if (!this.running) throw new Error(`node exited (${JSON.stringify(this.exitInfo)}) before it was healthy:\n${this.out}`)
      try {
        const response = await fetch(this.url('/health'), {signal: AbortSignal.timeout(1000)})
        const health = (await response.json()) as {ready?: boolean}
        // Serving, and (a cluster of one) leading with its reads current: publishes commit
        // from here on, and what it serves includes everything acknowledged before a restart.
        if (response.status === 200 && health.ready !== false) return
      } catch {
        // Not listening yet.
      }
      await sleep(HEALTH_POLL_MS)
    }
    throw new Error(`node did not become healthy within ${timeoutMs} ms:\n${this.out}`)
  }

  /** Waits (bounded) for the process to exit; null if it did not in time. */
  async waitExit(timeoutMs: number): Promise<Exit | null> {
    if (this.exitInfo) return this.exitInfo
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)))
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  async stop(graceMs = STOP_GRACE_MS): Promise<Exit> {
    if (this.exitInfo) return this.exitInfo
    this.signal('SIGTERM')
    const exit = await this.waitExit(graceMs)
    if (exit) return exit
    return this.kill()
  }

  /** SIGKILL: a crash, with no chance to flush anything. */
  async kill(): Promise<Exit> {
    if (this.exitInfo) return this.exitInfo
    this.signal('SIGKILL')
    const exit = await this.waitExit(KILL_WAIT_MS)
    if (!exit) throw new Error(`node pid ${this.pid} did not die after SIGKILL`)
    return exit
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.exitInfo) {
      try {
        process.kill(this.pid, signal)
      } catch {
        // Already gone.
      }
    }
  }
}

/**
 * Starts and tracks nodes of one test file, and stops them and removes their temp dirs in
 * mocha hooks. `scope` 'each' cleans up after every test, 'all' after the describe block.
 */
export class NodeFixture {
  private readonly nodes = new Set<NodeProcess>()
  private readonly dirs = new Set<string>()

  /** Starts a node and waits until it serves (unless told not to wait). */
  async start(options: StartOptions = {}): Promise<NodeProcess> {
    const pickPorts = options.ports === undefined
    for (let attempt = 0; ; attempt++) {
      const ports = options.ports ?? {tcp: await freePort(), http: await freePort(), raft: await freePort()}
      const node = this.spawn(ports, options)
      if (options.waitHealthy === false) return node
      try {
        await node.waitHealthy()
        return node
      } catch (error) {
        await node.stop()
        // Another process may have taken a port between our probe and the node's listen.
        if (pickPorts && attempt < 2 && /already in use/.test(node.output)) continue
        throw error
      }
    }
  }

  /** Stops a node (SIGTERM or SIGKILL) and starts a new one on its data dir and ports. */
  async restart(node: NodeProcess, how: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<NodeProcess> {
    if (how === 'SIGKILL') await node.kill()
    else await node.stop()
    return this.start({dataDir: node.dataDir, ports: node.ports, args: node.args})
  }

  /** A fresh temp dir, removed at cleanup. */
  tempDir(): string {
    const dir = tempDir()
    this.dirs.add(dir)
    return dir
  }

  get all(): NodeProcess[] {
    return [...this.nodes]
  }

  async cleanup(): Promise<void> {
    const nodes = [...this.nodes]
    this.nodes.clear()
    const errors: unknown[] = []
    await Promise.all(nodes.map((n) => n.stop().catch((error) => errors.push(error))))
    for (const dir of this.dirs) fs.rmSync(dir, {recursive: true, force: true})
    this.dirs.clear()
    if (errors.length > 0) throw errors[0]
  }

  /** The output of every node started since the last cleanup, for a failure message. */
  report(): string {
    return [...this.nodes].map((n) => `--- node pid ${n.pid} (tcp ${n.ports.tcp}, http ${n.ports.http}) ---\n${n.output}`).join('\n')
  }

  private spawn(ports: Ports, options: StartOptions): NodeProcess {
    const dataDir = options.dataDir ?? path.join(this.tempDir(), 'data')
    const args = options.args ?? []
    const child = spawn(
      process.execPath,
      cliArgs(
        'node',
        '--host', HOST,
        '--tcp-port', String(ports.tcp),
        '--http-port', String(ports.http),
        '--raft-port', String(ports.raft),
        '--data-dir', dataDir,
        ...args,
      ),
      {cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, PAD_HOME: path.dirname(dataDir)}},
    )
    const node = new NodeProcess(child, ports, dataDir, args)
    live.add(child)
    child.once('exit', () => live.delete(child))
    this.nodes.add(node)
    return node
  }
}

/**
 * A fixture whose nodes are stopped (and temp dirs removed) after each test or after the
 * enclosing describe block; on a failed test the nodes' output is printed.
 */
export function nodeFixture(scope: 'each' | 'all' = 'each'): NodeFixture {
  const fixture = new NodeFixture()
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.error(fixture.report())
  })
  if (scope === 'each') {
    afterEach(() => fixture.cleanup())
  } else {
    after(() => fixture.cleanup())
  }
  return fixture
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Polls `check` until it returns a value other than undefined; bounded by `timeoutMs` and by
 * a count of attempts. Throws with `what` when the condition never held.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs
  const attempts = Math.ceil(timeoutMs / intervalMs) + 1
  let last: unknown
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) break
    await sleep(intervalMs)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
}
