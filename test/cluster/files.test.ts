import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {spawn} from 'node:child_process'
import {expect} from 'chai'
import {ControlServer, controlRequest} from '../../src/cluster/control.js'
import {ClusterError} from '../../src/cluster/errors.js'
import {clusterPaths, controlSocketPath, validateClusterName} from '../../src/cluster/layout.js'
import {checkPortsFree, plannedPorts} from '../../src/cluster/ports.js'
import {isAlive, isOurProcess, processIdentity, waitForExit, watchProcess} from '../../src/cluster/process-util.js'
import {DEFAULT_OPTIONS, ensureClusterDir, nodeRecords, readState, readToken, writeState, writeToken} from '../../src/cluster/state.js'
import {describeFaults, faultViews} from '../../src/cluster/status.js'
import {LineFollower} from '../../src/cluster/tail.js'

describe('cluster folder, ports and processes', () => {
  let home: string
  beforeEach(() => (home = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-home-'))))
  afterEach(() => fs.rmSync(home, {recursive: true, force: true}))

  it('lays a cluster out under $PAD_HOME/<name>, with a short socket path', () => {
    const paths = clusterPaths('test', home)
    expect(paths.dir).to.equal(path.join(home, 'test'))
    expect(paths.clusterJson).to.equal(path.join(home, 'test', 'cluster.json'))
    expect(paths.nodeLog(2)).to.equal(path.join(home, 'test', 'node-2', 'node.log'))
    expect(paths.socket).to.equal(controlSocketPath('test', paths.dir))
    expect(controlSocketPath('test', paths.dir, {})).to.equal(path.join(home, 'test', 'control.sock'))
    expect(() => validateClusterName('../etc')).to.throw(ClusterError, /is not a cluster name/)
    expect(() => validateClusterName('')).to.throw(ClusterError)
    expect(validateClusterName('my-cluster_1.2')).to.equal('my-cluster_1.2')
  })

  describe('control socket location', () => {
    const mode = (file: string): string => (fs.statSync(file).mode & 0o777).toString(8)

    it('goes to the per-user runtime dir when it is private, else the cluster folder', () => {
      const runtime = path.join(home, 'run')
      fs.mkdirSync(runtime, {mode: 0o700})
      const dir = path.join(home, 'c1')
      const socket = controlSocketPath('c1', dir, {XDG_RUNTIME_DIR: runtime})
      expect(path.dirname(socket)).to.equal(path.join(runtime, 'pad-cli'))
      expect(path.basename(socket)).to.match(/^c1-[0-9a-f]{12}\.sock$/)
      // Another PAD_HOME with a cluster of the same name gets its own socket.
      expect(controlSocketPath('c1', path.join(home, 'other', 'c1'), {XDG_RUNTIME_DIR: runtime})).to.not.equal(socket)
      fs.chmodSync(runtime, 0o755)
      expect(controlSocketPath('c1', dir, {XDG_RUNTIME_DIR: runtime}), 'a runtime dir others can enter is not used').to.equal(path.join(dir, 'control.sock'))
      expect(controlSocketPath('c1', dir, {XDG_RUNTIME_DIR: path.join(home, 'missing')})).to.equal(path.join(dir, 'control.sock'))
    })

    it('goes to a private mkdtemp dir, recorded in the cluster folder, when the path is too long', () => {
      const dir = path.join(home, 'x'.repeat(120), 'deep')
      const socket = controlSocketPath('deep', dir, {})
      expect(Buffer.byteLength(socket)).to.be.below(104)
      expect(path.dirname(path.dirname(socket))).to.equal(os.tmpdir())
      expect(path.basename(path.dirname(socket))).to.match(/^pad-cli-.{6}$/)
      expect(mode(path.dirname(socket))).to.equal('700')
      expect(fs.readFileSync(path.join(dir, 'control.path'), 'utf8').trim()).to.equal(socket)
      expect(mode(path.join(dir, 'control.path'))).to.equal('600')
      // A client asking later finds the same socket.
      expect(controlSocketPath('deep', dir, {})).to.equal(socket)
      fs.rmSync(path.dirname(socket), {recursive: true, force: true})
    })

    it('makes the socket under umask 077 in a 0700 dir, and clients reach it there', async () => {
      const runtime = path.join(home, 'run')
      fs.mkdirSync(runtime, {mode: 0o700})
      const socket = controlSocketPath('c2', path.join(home, 'c2'), {XDG_RUNTIME_DIR: runtime})
      const server = new ControlServer(socket, {ping: async () => ({pid: 42})})
      const before = process.umask()
      await server.listen()
      try {
        expect(process.umask(), 'the umask is restored').to.equal(before)
        expect(mode(path.dirname(socket))).to.equal('700')
        expect(fs.statSync(socket).mode & 0o077).to.equal(0)
        expect(await controlRequest(socket, {op: 'ping'})).to.deep.equal({pid: 42})
      } finally {
        await server.close()
      }
    })
  })

  it('writes cluster.json atomically and the token readable only by its owner', () => {
    const paths = clusterPaths('default', home)
    fs.mkdirSync(paths.dir, {mode: 0o755})
    ensureClusterDir(paths)
    expect((fs.statSync(paths.dir).mode & 0o777).toString(8), 'an existing folder is closed too').to.equal('700')
    const token = writeToken(paths)
    expect(token).to.match(/^[A-Za-z0-9_-]{32}$/)
    expect(readToken(paths)).to.equal(token)
    expect((fs.statSync(paths.token).mode & 0o777).toString(8)).to.equal('600')
    const options = {...DEFAULT_OPTIONS, nodes: 2, tcp_port: 7000}
    const now = new Date().toISOString()
    writeState(paths, {version: 1, name: 'default', created_at: now, updated_at: now, options, supervisor: null, nodes: nodeRecords(paths, options)})
    const state = readState(paths)!
    expect(state.nodes.map((n) => [n.node_id, n.tcp_port, n.http_port, n.raft_port])).to.deep.equal([
      ['127.0.0.1:7000', 7000, 8080, 6000],
      ['127.0.0.1:7001', 7001, 8081, 6001],
    ])
    expect(fs.readdirSync(paths.dir).filter((f) => f.endsWith('.tmp'))).to.deep.equal([])
    expect(readState(clusterPaths('other', home))).to.equal(null)
  })

  it('keeps the restart policy in cluster.json, and reads a file from before --restart as no', () => {
    const paths = clusterPaths('default', home)
    ensureClusterDir(paths)
    const now = new Date().toISOString()
    const options = {...DEFAULT_OPTIONS, restart: 'on-failure' as const}
    writeState(paths, {version: 1, name: 'default', created_at: now, updated_at: now, options, supervisor: null, nodes: nodeRecords(paths, options)})
    expect(readState(paths)!.options.restart).to.equal('on-failure')
    const old = JSON.parse(fs.readFileSync(paths.clusterJson, 'utf8')) as {options: Record<string, unknown>}
    delete old.options.restart
    fs.writeFileSync(paths.clusterJson, JSON.stringify(old))
    expect(readState(paths)!.options.restart).to.equal('no')
  })

  it('keeps --retention in cluster.json, and reads a file from before --retention (or a hand-edited one) as no limits', () => {
    const paths = clusterPaths('default', home)
    ensureClusterDir(paths)
    const now = new Date().toISOString()
    const options = {...DEFAULT_OPTIONS, retention: ['max-messages=100', 'topic:a:max-age=1h']}
    writeState(paths, {version: 1, name: 'default', created_at: now, updated_at: now, options, supervisor: null, nodes: nodeRecords(paths, options)})
    expect(readState(paths)!.options.retention).to.deep.equal(['max-messages=100', 'topic:a:max-age=1h'])
    for (const edit of [undefined, 'max-messages=1', [1, 2]]) {
      const old = JSON.parse(fs.readFileSync(paths.clusterJson, 'utf8')) as {options: Record<string, unknown>}
      old.options.retention = edit
      fs.writeFileSync(paths.clusterJson, JSON.stringify(old))
      expect(readState(paths)!.options.retention).to.deep.equal([])
    }
  })

  it('plans node i on base+i and refuses overlapping or out-of-range ports', () => {
    const uses = plannedPorts({...DEFAULT_OPTIONS, nodes: 2})
    expect(uses.map((u) => `${u.kind}:${u.port}`)).to.deep.equal(['TCP:5000', 'TCP:5001', 'HTTP:8080', 'HTTP:8081', 'Raft:6000', 'Raft:6001'])
    expect(() => plannedPorts({...DEFAULT_OPTIONS, nodes: 3, tcp_port: 6001})).to.throw(ClusterError, /port 6001 would serve both TCP of node 0 and Raft of node 1/)
    expect(() => plannedPorts({...DEFAULT_OPTIONS, nodes: 3, tcp_port: 65534})).to.throw(ClusterError, /beyond 65535/)
  })

  it('says which port is taken', async () => {
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as net.AddressInfo).port
    try {
      const error = await checkPortsFree({...DEFAULT_OPTIONS, nodes: 2, http_port: port - 1, tcp_port: 41000, raft_port: 42000}).catch((e: unknown) => e)
      expect(error).to.be.instanceOf(ClusterError).and.include({code: 'PORT_IN_USE'})
      expect((error as Error).message).to.equal(`port ${port} (HTTP of node 1) on 127.0.0.1 is in use: choose other bases with --http-port`)
    } finally {
      server.close()
    }
  })

  it('tells live processes from dead ones and notices when one goes', async () => {
    expect(isAlive(process.pid)).to.equal(true)
    expect(processIdentity(process.pid)).to.be.a('string')
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', 'pad-marker-xyz'], {stdio: 'ignore'})
    try {
      await new Promise((resolve) => child.once('spawn', resolve))
      const pid = child.pid!
      expect(isOurProcess(pid, ['pad-marker-xyz'])).to.equal(true)
      expect(isOurProcess(pid, ['something-else'])).to.equal(false)
      let gone = false
      const stop = watchProcess(pid, 20, () => (gone = true))
      child.kill('SIGKILL')
      expect(await waitForExit(pid, 3000)).to.equal(true)
      for (let i = 0; i < 100 && !gone; i++) await new Promise((resolve) => setTimeout(resolve, 20))
      stop()
      expect(gone).to.equal(true)
      expect(isAlive(pid)).to.equal(false)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it("shows a node's faults as the status does", () => {
    const views = faultViews({
      '2': {drop: true, until: Date.UTC(2026, 0, 1)},
      '1': {drop: true, delayMs: 50, jitterMs: 5, loss: 0.25},
    })
    expect(views).to.deep.equal([
      {peer: 1, drop: true, delay_ms: 50, jitter_ms: 5, loss: 0.25, expires_at: null},
      {peer: 2, drop: true, expires_at: '2026-01-01T00:00:00.000Z'},
    ])
    expect(describeFaults(views)).to.equal('cut from 1,2; delay 50ms±5 to 1; loss 25% to 1')
    expect(describeFaults([])).to.equal('')
  })

  it('follows a growing file line by line, across partial lines and truncation', () => {
    const file = path.join(home, 'log')
    fs.writeFileSync(file, 'old\n')
    const lines: string[] = []
    const follower = new LineFollower(file, (line) => lines.push(line))
    follower.poll()
    expect(lines).to.deep.equal([])
    fs.appendFileSync(file, 'one\ntw')
    follower.poll()
    expect(lines).to.deep.equal(['one'])
    fs.appendFileSync(file, 'o\n')
    follower.poll()
    expect(lines).to.deep.equal(['one', 'two'])
    fs.writeFileSync(file, 'new\n')
    follower.poll()
    expect(lines).to.deep.equal(['one', 'two', 'new'])
    const fromStart: string[] = []
    new LineFollower(file, (line) => fromStart.push(line), true).poll()
    expect(fromStart).to.deep.equal(['new'])
  })
})
