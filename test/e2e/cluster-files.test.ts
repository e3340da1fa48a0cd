/**
 * A real `pad-cli up` with a private $XDG_RUNTIME_DIR: the supervisor's control socket is made
 * there, owner-only, recorded in cluster.json, and the CLI finds it; the cluster folder, the
 * node's data dir and its database are closed to other users.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {execa} from 'execa'
import {expect} from 'chai'
import {isAlive, isOurProcess} from '../../src/cluster/process-util.js'
import {REPO_ROOT, cliArgs, freePort} from './helpers/node-process.js'

const COMMAND_TIMEOUT_MS = 60_000

describe('cluster files and control socket (real pad-cli up)', function () {
  this.timeout(180_000)
  let home: string
  let runtime: string
  const pids = new Set<number>()

  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-files-e2e-'))
    runtime = path.join(home, 'run')
    fs.mkdirSync(runtime, {mode: 0o700})
  })

  afterEach(async () => {
    await cli(['down', '--cluster', 'files'], 40_000).catch(() => null)
    for (const pid of pids) {
      if (isAlive(pid) && isOurProcess(pid, [home])) process.kill(pid, 'SIGKILL')
    }
    pids.clear()
    fs.rmSync(home, {recursive: true, force: true})
  })

  function cli(args: string[], timeout = COMMAND_TIMEOUT_MS): Promise<{code: number; stdout: string; stderr: string}> {
    return execa(process.execPath, cliArgs(...args), {
      cwd: REPO_ROOT,
      env: {PAD_HOME: home, XDG_RUNTIME_DIR: runtime, NO_COLOR: '1'},
      reject: false,
      timeout,
      stdin: 'ignore',
    }).then((r) => ({code: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '')}))
  }

  it('makes the control socket in the runtime dir, owner-only, and every file of the cluster private', async () => {
    const ports = {tcp: await freePort(), http: await freePort(), raft: await freePort()}
    const up = await cli(['up', '--cluster', 'files', '--nodes', '1', '--tcp-port', String(ports.tcp), '--http-port', String(ports.http), '--raft-port', String(ports.raft), '--wait', '60s'])
    expect(up.code, up.stderr + up.stdout).to.equal(0)
    expect(up.stderr, 'no warning for a loopback --host').to.not.match(/warning/)
    const status = await cli(['status', '--json', '--cluster', 'files'])
    expect(status.code, status.stderr).to.equal(0)
    const parsed = JSON.parse(status.stdout) as {supervisor_pid: number; nodes: {pid: number | null}[]}
    pids.add(parsed.supervisor_pid)
    for (const node of parsed.nodes) if (node.pid !== null) pids.add(node.pid)

    const dir = path.join(home, 'files')
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'cluster.json'), 'utf8')) as {supervisor: {socket: string}}
    const socket = state.supervisor.socket
    expect(path.dirname(socket)).to.equal(path.join(runtime, 'pad-cli'))
    expect(fs.statSync(socket).isSocket()).to.equal(true)
    expect(fs.statSync(socket).mode & 0o077, 'socket: no access for group or others').to.equal(0)
    expect(fs.statSync(path.dirname(socket)).mode & 0o777).to.equal(0o700)
    expect(fs.existsSync(path.join(dir, 'control.sock'))).to.equal(false)

    const mode = (file: string): number => fs.statSync(file).mode & 0o777
    expect(mode(dir)).to.equal(0o700)
    expect(mode(path.join(dir, 'node-0'))).to.equal(0o700)
    for (const file of ['node.db', 'node.db-wal']) expect(mode(path.join(dir, 'node-0', file)), file).to.equal(0o600)

    const down = await cli(['down', '--cluster', 'files'], 40_000)
    expect(down.code, down.stderr).to.equal(0)
    expect(fs.existsSync(socket), 'the socket is removed at down').to.equal(false)
  })
})
