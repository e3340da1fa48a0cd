#!/usr/bin/env node
// The least a replicated, fsynced publish can cost on this machine, with none of pad-cli in it:
// a client sends 128 bytes to a "leader" process, which sends them to two "follower" processes
// and commits them to its own SQLite database; each follower commits them (WAL,
// synchronous=FULL, as a node does) and answers; the leader answers the client after its own
// commit and the first follower's answer (a majority of three). Plain TCP on 127.0.0.1,
// length-prefixed frames, no Raft, no parsing. Compare its p50 with `pad-cli bench --mode sync`
// run just before or after: the difference is what pad-cli itself costs.
//   node scripts/latency-floor.mjs [seconds=5]
// Prints one JSON line with the fields of `pad-cli bench --json` that apply (p50/p99 of the round
// trip, msgs/s), the p90, the p50/p90 of a bare commit in this process without the network, and
// the p50 of a 128-byte O_DSYNC write (the disk alone, as the peers' README measures it).
import {fork} from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {createRequire} from 'node:module'

const require = createRequire(import.meta.url)
const Database = require('better-sqlite3')
const SELF = fileURLToPath(import.meta.url)
const HOST = '127.0.0.1'
const SIZE = 128

function openDb(dir) {
  const db = new Database(path.join(dir, 'floor.db'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, data BLOB NOT NULL); CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY, commit_index INTEGER)')
  const append = db.prepare('INSERT OR REPLACE INTO log VALUES (?, ?)')
  const state = db.prepare('INSERT OR REPLACE INTO state VALUES (1, ?)')
  let index = 0
  // One entry and the hard state: the two pages a node's one-at-a-time write touches.
  return (data) => {
    index++
    db.exec('BEGIN IMMEDIATE')
    append.run(index, data)
    state.run(index)
    db.exec('COMMIT')
  }
}

/** Calls onFrame(payload) for each 4-byte-length-prefixed frame read from the socket. */
function frames(socket, onFrame) {
  let buffered = Buffer.alloc(0)
  socket.on('data', (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
    while (buffered.length >= 4) {
      const length = buffered.readUInt32BE(0)
      if (buffered.length < 4 + length) break
      onFrame(buffered.subarray(4, 4 + length))
      buffered = buffered.subarray(4 + length)
    }
  })
}

const frame = (payload) => {
  const out = Buffer.allocUnsafe(4 + payload.length)
  out.writeUInt32BE(payload.length, 0)
  payload.copy(out, 4)
  return out
}

function listen(onSocket) {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => {
      socket.setNoDelay(true)
      onSocket(socket)
    })
    server.listen(0, HOST, () => resolve(server.address().port))
  })
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST, () => resolve(socket))
    socket.setNoDelay(true)
    socket.once('error', reject)
  })
}

async function follower(dir) {
  const commit = openDb(dir)
  const port = await listen((socket) => frames(socket, (payload) => {
    commit(payload)
    socket.write(frame(Buffer.from([1])))
  }))
  process.send({port})
}

async function leader(dir, followerPorts) {
  const commit = openDb(dir)
  const followers = await Promise.all(followerPorts.map(connect))
  // One publish at a time, so one pending answer: durable here, and acks counted.
  let pending = null
  const maybeAnswer = () => {
    if (pending && pending.durable && pending.acks >= 1) {
      pending.client.write(frame(Buffer.from([1])))
      pending = null
    }
  }
  for (const f of followers) {
    frames(f, () => {
      if (!pending) return
      pending.acks++
      maybeAnswer()
    })
  }
  const port = await listen((client) => frames(client, (payload) => {
    pending = {client, acks: 0, durable: false}
    const out = frame(payload)
    for (const f of followers) f.write(out)
    commit(payload)
    pending.durable = true
    // Answers that arrived during the commit are read on the next turn of the event loop.
    maybeAnswer()
  }))
  process.send({port})
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]

async function main(seconds) {
  const children = []
  const dirs = []
  const start = (role, extra) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-floor-'))
    dirs.push(dir)
    const child = fork(SELF, [role, dir, ...extra], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
    children.push(child)
    return new Promise((resolve, reject) => {
      child.once('message', (m) => resolve(m.port))
      child.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)))
    })
  }
  try {
    const f1 = await start('follower', [])
    const f2 = await start('follower', [])
    const leaderPort = await start('leader', [String(f1), String(f2)])
    const socket = await connect(leaderPort)
    const body = Buffer.alloc(SIZE, 0x61)
    const samples = []
    const cpuBefore = process.cpuUsage()
    const until = Date.now() + seconds * 1000
    await new Promise((resolve) => {
      let sentAt = 0
      const send = () => {
        if (Date.now() >= until || samples.length >= 1_000_000) return resolve()
        sentAt = performance.now()
        socket.write(frame(body))
      }
      frames(socket, () => {
        samples.push(performance.now() - sentAt)
        send()
      })
      send()
    })
    socket.destroy()
    const cpu = process.cpuUsage(cpuBefore)
    // A bare commit in this process, no network: the disk's share of the round trip.
    const commits = []
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-floor-'))
    dirs.push(dir)
    const commit = openDb(dir)
    for (let i = 0; i < 2000; i++) {
      const t = performance.now()
      commit(body)
      commits.push(performance.now() - t)
    }
    // The disk alone: 128-byte writes appended with O_DSYNC, what `dd bs=128 oflag=dsync` does
    // (the peer benchmarks report the same figure for the disk on the day of theirs).
    const dsyncWrites = []
    const fd = fs.openSync(path.join(dir, 'dsync'), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_DSYNC)
    try {
      for (let i = 0; i < 2000; i++) {
        const t = performance.now()
        fs.writeSync(fd, body)
        dsyncWrites.push(performance.now() - t)
      }
    } finally {
      fs.closeSync(fd)
    }
    samples.sort((a, b) => a - b)
    commits.sort((a, b) => a - b)
    dsyncWrites.sort((a, b) => a - b)
    const round = (x) => Math.round(x * 1000) / 1000
    console.log(JSON.stringify({
      system: 'latency-floor',
      phase: 'pub-sync',
      replicas: 3,
      size: SIZE,
      acked: samples.length,
      msgs_per_s: Math.round(samples.length / seconds),
      p50_ms: round(percentile(samples, 0.5)),
      p90_ms: round(percentile(samples, 0.9)),
      p99_ms: round(percentile(samples, 0.99)),
      client_cpu_s: round((cpu.user + cpu.system) / 1e6),
      commit_p50_ms: round(percentile(commits, 0.5)),
      commit_p90_ms: round(percentile(commits, 0.9)),
      dsync_write_p50_ms: round(percentile(dsyncWrites, 0.5)),
    }))
  } finally {
    await Promise.all(children.map((child) => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', resolve)
      child.kill('SIGKILL')
    })))
    for (const dir of dirs) fs.rmSync(dir, {recursive: true, force: true})
  }
}

const [role, dir, ...rest] = process.argv.slice(2)
// A child ends with the process that started it, even if that one dies without a word.
if (process.send) process.on('disconnect', () => process.exit(0))
if (role === 'follower') await follower(dir)
else if (role === 'leader') await leader(dir, rest.map(Number))
else {
  const seconds = Number(role ?? 5)
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 600) {
    console.error('usage: node scripts/latency-floor.mjs [seconds=5] (1-600)')
    process.exit(2)
  }
  await main(seconds)
}
