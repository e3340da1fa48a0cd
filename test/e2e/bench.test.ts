import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {expect} from 'chai'
import type {TopicsAnswer} from '../../src/api/node-http.js'
import {CliCluster, clusterHooks} from './cluster-helpers.js'

// `pad-cli bench` as a new user runs it: on a temporary cluster it starts and removes itself.
// The figures are not asserted (a benchmark prints numbers; it is not a timed test), only that
// the phases ran, their JSON lines parse with the peers' fields, and nothing was lost.

const PEER_FIELDS = ['system', 'phase', 'mode', 'replicas', 'size', 'window', 'sent', 'acked', 'errors', 'elapsed_s', 'msgs_per_s', 'p50_ms', 'p99_ms', 'max_ms', 'client_cpu_s']

/** Pids of processes whose command line holds `needle` (the temporary cluster's port flags). */
function processesWith(needle: string): number[] {
  const found: number[] = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').includes(needle)) found.push(Number(entry))
    } catch {
      // Gone meanwhile.
    }
  }
  return found
}

describe('pad-cli bench (real processes)', function () {
  this.timeout(180_000)
  let current: CliCluster | null = null
  clusterHooks(() => current)
  const create = async (size: number): Promise<CliCluster> => (current = await CliCluster.create(size))

  it('runs both load phases on a temporary one-node cluster and prints JSON lines with the peers fields', async () => {
    const ports = await create(1)
    const flags = ['--nodes', '1', '--tcp-port', String(ports.ports.tcp), '--http-port', String(ports.ports.http), '--raft-port', String(ports.ports.raft)]
    const result = await ports.run(['bench', ...flags, '--messages', '300', '--warmup', '20', '--json'], {cluster: false, timeoutMs: 120_000})
    expect(result.code, result.stderr).to.equal(0)
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.map((l) => l.phase)).to.deep.equal(['pub-sync', 'pub-window'])
    for (const line of lines) {
      for (const field of PEER_FIELDS) expect(line, field).to.have.property(field)
      expect(line).to.include({system: 'pad-cli', replicas: 1, size: 128, sent: 300, acked: 300, errors: 0})
      expect(line.msgs_per_s).to.be.greaterThan(0)
      expect(line.elections).to.equal(0)
      // What the peers' lines also carry, and what every row records of the run and the machine.
      expect(line).to.include({n_target: 300, capped: false})
      expect(line.server).to.match(/^pad-cli \d+\.\d+\.\d+/)
      expect(line.client).to.match(/^pad-cli BrokerClient .*Node/)
      expect(line.run).to.match(/^\d{8}T\d{6}Z$/)
      expect(line.commit).to.satisfy((c: unknown) => c === null || /^[0-9a-f]{40}$/.test(String(c)))
      expect(line.cores).to.be.a('number').and.at.least(1)
      expect(line.fsync_ms).to.be.a('number').and.at.least(0)
    }
  })

  it('says when --duration cut a phase short (capped), and refuses a hostile --duration in one line', async () => {
    const ports = await create(1)
    const flags = ['--nodes', '1', '--tcp-port', String(ports.ports.tcp), '--http-port', String(ports.ports.http), '--raft-port', String(ports.ports.raft)]
    const result = await ports.run(['bench', ...flags, '--mode', 'sync', '--messages', '100000000', '--warmup', '0', '--duration', '1s', '--json'], {cluster: false, timeoutMs: 120_000})
    expect(result.code, result.stderr).to.equal(0)
    const line = JSON.parse(result.stdout.trim()) as Record<string, unknown>
    expect(line).to.include({phase: 'pub-sync', n_target: 100_000_000, capped: true})
    expect(await ports.fails(['bench', '--duration', 'forever'], 2, {cluster: false})).to.equal('Error: --duration: "forever" is not a duration: use e.g. 150ms, 10s, 1m')
  })

  it('warms up with publishes it does not count, against the cluster of `pad-cli up`', async () => {
    const cluster = await create(1)
    await cluster.ok(['up', ...cluster.upFlags()], {cluster: false})
    const out = await cluster.ok(['bench', '--mode', 'sync', '--messages', '200', '--warmup', '40', '--json'])
    const line = JSON.parse(out.trim()) as Record<string, unknown>
    expect(line).to.include({phase: 'pub-sync', sent: 200, acked: 200, errors: 0, warmup: 40})
    // The warm-up publishes were really sent (and stored), just not measured.
    const response = await fetch(`http://127.0.0.1:${cluster.ports.http}/topics`)
    const {details} = (await response.json()) as TopicsAnswer
    expect(details).to.deep.include({topic: 'bench', messages: 240, next_offset: 240})
  })

  it('measures a failover on a temporary three-node cluster: every acknowledged message is stored', async () => {
    const ports = await create(3)
    const flags = ['--nodes', '3', '--tcp-port', String(ports.ports.tcp), '--http-port', String(ports.ports.http), '--raft-port', String(ports.ports.raft)]
    const result = await ports.run(['bench', ...flags, '--mode', 'failover', '--json'], {cluster: false, timeoutMs: 150_000})
    expect(result.code, result.stderr).to.equal(0)
    const [run, summary] = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(run).to.include({system: 'pad-cli', phase: 'failover', replicas: 3, acked_all_stored: true})
    expect(run.gap_s).to.be.a('number')
    expect(run.acked_after_kill).to.be.greaterThan(0)
    expect(summary).to.include({phase: 'failover-summary', kills: 1, acked_all_stored: true})
    // The temporary cluster is gone with the command.
    expect(processesWith(`--raft-port ${ports.ports.raft + 1}`)).to.deep.equal([])
  })

  it('refuses a failover on a single node with a one-line reason', async () => {
    const ports = await create(1)
    const line = await ports.fails(
      ['bench', '--nodes', '1', '--mode', 'failover', '--tcp-port', String(ports.ports.tcp), '--http-port', String(ports.ports.http), '--raft-port', String(ports.ports.raft)],
      1,
      {cluster: false},
    )
    expect(line).to.match(/needs a cluster of 3 or more nodes/)
  })

  it('measures the catch-up of a stopped follower and of an empty member, and the disk per stored message (--mode catchup)', async () => {
    const ports = await create(3)
    const flags = ['--tcp-port', String(ports.ports.tcp), '--http-port', String(ports.ports.http), '--raft-port', String(ports.ports.raft)]
    const result = await ports.run(['bench', '--mode', 'catchup', ...flags, '--messages', '3000', '--rate', '50', '--json'], {cluster: false, timeoutMs: 170_000})
    expect(result.code, result.stderr).to.equal(0)
    const row = JSON.parse(result.stdout.trim()) as Record<string, unknown>
    expect(row).to.include({system: 'pad-cli', phase: 'catchup', replicas: 3, messages: 3000, n_target: 3000, size: 128, fill_capped: false, fill_errors: 0})
    expect(row.behind_messages).to.equal(300)
    expect(row.fill_msgs_per_s).to.be.greaterThan(0)
    const runs = [row.stopped_follower, row.empty_member] as Record<string, unknown>[]
    for (const run of runs) {
      expect(run.catchup_ms, JSON.stringify(run)).to.be.a('number').and.greaterThan(0)
      expect(run.start_ms).to.be.a('number').and.at.most(run.catchup_ms as number)
      expect(run.bytes_sent, 'the leader counts what it sends its peers').to.be.a('number').and.greaterThan(0)
      expect(run.publish_p99_ms).to.be.a('number')
      expect(run.publish_errors).to.equal(0)
      expect(run.elections).to.be.a('number').and.at.least(0)
      expect(run.converged_index).to.be.a('number')
      expect(run.peak_rss_bytes).to.have.length(3)
      // Null from a build without snapshots, a count from one with them.
      for (const field of ['snapshots_sent', 'snapshots_installed']) expect(run[field], field).to.satisfy((v: unknown) => v === null || (typeof v === 'number' && v >= 0))
    }
    const [stopped, empty] = runs
    expect(stopped.node).to.not.equal(empty.node)
    // The stopped follower missed the chunk published while it was down; the empty member, everything.
    expect(stopped.behind_entries).to.be.at.least(300)
    expect(empty.behind_entries).to.be.greaterThan(3300)
    // Every node ends with the same messages: the fill, the chunk and the background publishes.
    const stored = row.messages_stored as number[]
    expect(stored).to.have.length(3)
    expect(new Set(stored).size, JSON.stringify(stored)).to.equal(1)
    expect(stored[0]).to.equal(3300 + (stopped.published as number) + (empty.published as number))
    expect(row.payload_bytes_per_message).to.equal('bench'.length + 128)
    for (const bytes of row.disk_bytes as number[]) expect(bytes).to.be.greaterThan(stored[0] * 128)
    expect(row.disk_ratio_to_payload).to.be.greaterThan(1)
    expect(row.max_rss_bytes).to.be.a('number').and.greaterThan(0)
    expect(row.commit).to.satisfy((c: unknown) => c === null || /^[0-9a-f]{40}$/.test(String(c)))
    expect(row.cores).to.be.a('number')
    expect(processesWith(`--raft-port ${ports.ports.raft + 1}`)).to.deep.equal([])
  })

  it('runs --mode catchup only on a temporary cluster of 3 or more nodes, saying why in one line', async () => {
    const ports = await create(1)
    const flags = ['--tcp-port', String(ports.ports.tcp), '--http-port', String(ports.ports.http), '--raft-port', String(ports.ports.raft)]
    expect(await ports.fails(['bench', '--mode', 'catchup', '--nodes', '2', ...flags], 1, {cluster: false})).to.match(/needs a cluster of 3 or more nodes/)
    expect(await ports.fails(['bench', '--mode', 'catchup', '--port', String(ports.ports.tcp)], 1, {cluster: false})).to.match(/wipes a node's data: it runs only on a temporary cluster/)
    expect(await ports.fails(['bench', '--mode', 'catchup', '--cluster', 'default'], 1, {cluster: false})).to.match(/only on a temporary cluster/)
    expect(await ports.fails(['bench', '--mode', 'catchup', '--messages', '0'], 2, {cluster: false})).to.match(/--messages/)
  })

  it('scripts/latency-floor.mjs: one JSON line for the round trip without a broker, and nothing left behind', () => {
    const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/latency-floor.mjs')
    // A temp dir of its own: other runs of this test (other checkouts) share the system's.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-latency-floor-test-'))
    const floorDirs = (): string[] => fs.readdirSync(tmp).filter((name) => name.startsWith('pad-floor-'))
    try {
      const before = floorDirs()
      const result = spawnSync(process.execPath, [script, '1'], {encoding: 'utf8', timeout: 60_000, env: {...process.env, TMPDIR: tmp}})
      expect(result.status, result.stderr).to.equal(0)
      const line = JSON.parse(result.stdout.trim()) as Record<string, number | string>
      expect(line).to.include({system: 'latency-floor', phase: 'pub-sync', replicas: 3, size: 128})
      expect(line.acked).to.be.greaterThan(0)
      expect(line.p50_ms).to.be.greaterThan(0).and.at.most(line.p99_ms as number)
      expect(line.commit_p50_ms).to.be.greaterThan(0)
      expect(line.dsync_write_p50_ms).to.be.greaterThan(0)
      expect(processesWith(script)).to.deep.equal([])
      expect(floorDirs()).to.deep.equal(before)

      const refused = spawnSync(process.execPath, [script, 'soon'], {encoding: 'utf8', timeout: 10_000})
      expect(refused.status).to.equal(2)
      expect(refused.stderr).to.match(/usage: node scripts\/latency-floor.mjs/)
    } finally {
      fs.rmSync(tmp, {recursive: true, force: true})
    }
  })
})
