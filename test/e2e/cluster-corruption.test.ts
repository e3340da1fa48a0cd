/**
 * Disk corruption through the real `pad-cli` (#19): a node whose Raft log was damaged while it
 * was stopped finds it when it starts, takes no part in Raft (the other two commit on), says
 * `corrupt` in status, on /health and to its clients, and `pad-cli repair` replaces it by a new
 * member caught up from the leader by snapshot, with every acknowledged message on it.
 */
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import {expect} from 'chai'
import {flipBitAt} from '../../src/cluster/file-corruption.js'
import type {ControlAnswers} from '../../src/api/control.js'
import {requestJson} from '../../src/client/node-http-client.js'
import {inspectWal} from '../../src/storage/wal-check.js'
import {CliCluster, clusterHooks, eventually, HOST} from './cluster-helpers.js'

/** Whether something accepts connections on the port (bounded). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({host: HOST, port})
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(2000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

describe('cluster manager: disk corruption (pad-cli corrupt / repair)', function () {
  this.timeout(300_000)
  let cluster: CliCluster | null = null
  clusterHooks(() => cluster)

  it('a node with a damaged Raft log reports corrupt, does not vote or ack, and repair rebuilds it from the leader', async () => {
    // Room for a fourth node: the one repair adds. Small compaction thresholds: the leader's log is
    // compacted (the new node needs a snapshot), each node keeps its last entries.
    const c = (cluster = await CliCluster.create(4))
    const upFlags = c.upFlags().map((flag, i, all) => (all[i - 1] === '--nodes' ? '3' : flag))
    await c.ok(['up', ...upFlags, '--snapshot-entries', '30', '--trailing-entries', '10', '--wait', '60s'], {cluster: false})
    const acked: string[] = []
    // Over HTTP (a CLI process per publish would take most of the test); acked once the answer says so.
    const publish = async (body: string, node = 0): Promise<void> => {
      const answer = await requestJson({host: HOST, http_port: c.ports.http + node}, 'POST', '/publish', {body: {topic: 'disk', body}, timeoutMs: 10_000})
      expect(answer.status, JSON.stringify(answer.json)).to.equal(200)
      expect(answer.json.offset).to.equal(acked.length)
      acked.push(body)
    }
    for (let n = 0; n < 60; n++) await publish(`{"n":${n}}`)
    // The last entries, still in every node's log: their payload is what gets damaged.
    for (let n = 0; n < 5; n++) await publish(`{"mark":"corrupt-me-${n}"}`)

    // Refused on a running node: the damage is done to a stopped node's files only.
    expect(await c.fails(['corrupt', '1', '--bitflip', '8'])).to.match(/node 1 is running .*: corrupt damages a stopped node's files only; stop it first/)
    expect(await c.fails(['corrupt', '1'], 2)).to.match(/give --bitflip N .* or --truncate BYTES/)

    await c.ok(['stop', '1'])
    const status0 = await c.status()
    const dbFile = path.join(status0.nodes[1].data_dir, 'node.db')
    // One bit in every copy of the marked payloads (the log's, and the stored messages'), in the
    // database and in its WAL (the node's read-only connection closes last and leaves it): SQLite
    // sees sound pages; only the entries' checksums can tell.
    let flipped = 0
    for (const file of [dbFile, `${dbFile}-wal`].filter((f) => fs.existsSync(f))) {
      const bytes = fs.readFileSync(file)
      for (let at = bytes.indexOf('corrupt-me-'); at !== -1; at = bytes.indexOf('corrupt-me-', at + 1)) {
        flipBitAt(file, at + 2, 1)
        flipped++
      }
    }
    expect(flipped, 'the marked payloads are in the stopped node database').to.be.greaterThan(0)

    // It starts (its HTTP port answers), and says what it found.
    await c.ok(['start', '1'])
    const found = await eventually('node 1 reports corrupt', async () => {
      const s = await c.status()
      return s.nodes[1].corrupt ? s : undefined
    }, 20_000, 200)
    expect(found.nodes[1].process).to.equal('running')
    // Where the damage is found depends on where the pages were: a log entry in the database fails
    // its checksum; a damaged WAL frame with committed frames after it is found before SQLite opens it.
    const finding = /raft_log entry \d+ \(term \d+\) fails its checksum|WAL frame \d+ is damaged, and frame \d+, after it, ends a committed transaction/
    expect(found.nodes[1].corrupt!.reason).to.match(finding)
    expect(found.nodes[1].corrupt!.file).to.be.oneOf([dbFile, `${dbFile}-wal`])
    expect(await c.ok(['status'])).to.match(/\n1 +\S+ +VOTER +\d+ +running +corrupt /)
    expect(await c.ok(['status'])).to.include('rebuild it from the leader with pad-cli repair 1')
    const health = await requestJson({host: HOST, http_port: c.ports.http + 1}, 'GET', '/health', {timeoutMs: 2000})
    expect(health.status).to.equal(503)
    expect(health.json).to.deep.include({ok: false, state: 'corrupt'})
    // Its Raft endpoints, the log's tail included, say CORRUPT: nothing is read from the database.
    for (const pathName of ['/raft', '/raft/log?last=5']) {
      const answer = await requestJson({host: HOST, http_port: c.ports.http + 1}, 'GET', pathName, {timeoutMs: 2000})
      expect(answer.status, pathName).to.equal(503)
      expect((answer.json.error as {code: string}).code, pathName).to.equal('CORRUPT')
    }
    expect(await c.fails(['publish', 'disk', 'x', '--node', '1'])).to.match(/CORRUPT|corrupt/)
    // No Raft port: no vote, no acknowledgement, no leadership.
    expect(await listening(c.ports.raft + 1)).to.equal(false)
    const log = fs.readFileSync(found.nodes[1].log_file, 'utf8')
    expect(log).to.match(/this node's data is corrupt \(.*node\.db.*\): it takes no part in Raft and serves nothing; rebuild it from the leader with pad-cli repair 1/)

    // The other two commit on.
    for (let n = 0; n < 5; n++) await publish(`{"after":${n}}`, 2)
    expect((await c.status()).leader).to.be.oneOf([0, 2])

    // Repair refuses a node that reports nothing wrong.
    expect(await c.fails(['repair', '0'])).to.match(/node 0: it does not report corrupt data; nothing to repair \(pad-cli repair 0 --force/)

    const repaired = JSON.parse(await c.ok(['repair', '1', '--json'])) as ControlAnswers['repair']
    expect(repaired.node).to.equal(1)
    expect(repaired.reason).to.match(finding)
    expect(repaired.added).to.deep.include({node: 3, membership: 'voter'})
    expect(repaired.removed).to.deep.include({node: 1, stopped: true})
    expect(repaired.removed.voters).to.deep.equal([0, 2, 3])
    expect(repaired.kept).to.be.a('string')
    expect(fs.existsSync(path.join(repaired.kept!, 'node.db')), 'the corrupt data is kept aside').to.equal(true)
    expect(fs.existsSync(status0.nodes[1].data_dir)).to.equal(false)

    // Caught up by snapshot: the log it needed was compacted away on the leader.
    const raft3 = await c.raft(3)
    expect(raft3?.snapshots_installed).to.be.at.least(1)
    for (let n = 0; n < 3; n++) await publish(`{"repaired":${n}}`, 3)
    const read = await c.ok(['subscribe', 'disk', '--from', 'beginning', '--count', String(acked.length), '--node', '3'])
    expect(read).to.equal(acked.map((body, offset) => `disk@${offset} ${body}\n`).join(''))

    const events = (await c.events()).map((e) => `${e.type} ${String(e.node)}`)
    expect(events).to.include.members(['corrupt-found 1', 'member-add 3', 'member-promote 3', 'member-remove 1', 'repair 1'])

    // A database file cut short is found at start too, before SQLite opens it: quick_check reads
    // the pages SQLite holds in the WAL and may pass; the main file's length against what the
    // WAL's last transaction (or the file's header) says the database is does not.
    // Enough written (about 12 MB, log and messages) that the WAL has started over since: the main
    // file then holds pages the WAL does not (in a small database the WAL may hold every page, and
    // cutting the file loses nothing SQLite cannot read back from it).
    const pad = 'x'.repeat(60_000)
    for (let n = 0; n < 100; n++) {
      const answer = await requestJson({host: HOST, http_port: c.ports.http + 2}, 'POST', '/publish', {body: {topic: 'bulk', body: JSON.stringify({n, pad})}, timeoutMs: 10_000})
      expect(answer.status, JSON.stringify(answer.json)).to.equal(200)
    }
    await c.ok(['stop', '2'])
    const dbFile2 = path.join(status0.nodes[2].data_dir, 'node.db')
    const size = fs.statSync(dbFile2).size
    const committed = inspectWal(`${dbFile2}-wal`).committed
    const pageSize = committed?.pageSize ?? 4096
    // Cut from the last page only the main file holds: a page the WAL cannot give back (cutting
    // only pages the WAL holds loses nothing, and is rightly not called corrupt).
    let lost = Math.floor(size / pageSize)
    while (lost > 1 && committed?.pages.has(lost)) lost--
    expect(lost, 'a page only the main file holds').to.be.greaterThan(1)
    await c.ok(['corrupt', '2', '--truncate', String(size - (lost - 1) * pageSize)])
    await c.ok(['start', '2'])
    const cut = await eventually('node 2 reports corrupt', async () => {
      const s = await c.status()
      return s.nodes[2].corrupt ? s.nodes[2].corrupt : undefined
    }, 20_000, 200)
    expect(cut.file).to.equal(dbFile2)
    expect(cut.reason).to.match(/the file was cut short/)
  })
})
