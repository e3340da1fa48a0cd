// pad-cli bench's workload against NATS JetStream (driven by run.sh; see docs/performance.md).
//
//   node bench.mjs setup    --servers 127.0.0.1:14222,... --replicas 3 [--http 127.0.0.1:14226,...]
//   node bench.mjs pub      --servers ... --replicas 3 --mode sync|window [--n 20000] [--window 256] [--size 128] [--max-s 15]
//   node bench.mjs failover --servers ... --http ... --pids n1=PID,n2=PID,n3=PID [--rate 200] [--max-s 20]
//
// A publish is a JetStream publish to stream BENCH (subjects bench.>, file storage); it counts as
// done when its PubAck arrives, i.e. when a quorum of the stream's replicas has written it.
// Progress goes to stderr; the result is ONE JSON line on stdout. Only 127.0.0.1 is accepted.
/* global fetch, AbortSignal */ // Node 20's own, for the monitoring endpoint
import {connect, RetentionPolicy, StorageType} from 'nats'
import {loadOptions, log, loopbackList, main, measureFailover, measurePub, parseArgs, pidList, sleep} from './measure.mjs'

const STREAM = 'BENCH'
const args = parseArgs(process.argv.slice(2))
const num = (k, d) => (args[k] === undefined ? d : Number(args[k]))

function conn(servers) {
  return connect({servers, name: 'pad-peers-bench', noRandomize: true, maxReconnectAttempts: 20, reconnectTimeWait: 250, timeout: 5000})
}

async function jsz(hp) {
  const r = await fetch(`http://${hp}/jsz`, {signal: AbortSignal.timeout(1000)})
  return r.json()
}

async function setup() {
  const servers = loopbackList(args.servers, 'servers')
  const replicas = num('replicas', 3)
  const httpList = args.http ? loopbackList(args.http, 'http') : []
  const deadline = Date.now() + num('max-s', 30) * 1000
  // 1. a JetStream meta leader (clustered) or JetStream enabled (standalone), bounded in time
  let meta = null
  for (let i = 0; httpList.length > 0 && i < 300 && Date.now() < deadline && !meta; i++) {
    for (const hp of httpList) {
      try {
        const j = await jsz(hp)
        meta = j.meta_cluster ? j.meta_cluster.leader : (j.config ? '(standalone)' : null)
        if (meta) break
      } catch { /* not up yet */ }
    }
    if (!meta) await sleep(200)
  }
  if (httpList.length > 0 && !meta) throw new Error('no JetStream meta leader before deadline')
  // 2. the stream, retried while JetStream settles
  const nc = await conn(servers)
  let created = false
  let lastErr = null
  for (let i = 0; i < 100 && Date.now() < deadline && !created; i++) {
    try {
      const jsm = await nc.jetstreamManager({timeout: 2000})
      try { await jsm.streams.delete(STREAM) } catch { /* absent */ }
      await jsm.streams.add({
        name: STREAM, subjects: ['bench.>'], storage: StorageType.File, retention: RetentionPolicy.Limits,
        num_replicas: replicas, max_bytes: 2 * 1024 * 1024 * 1024,
      })
      created = true
    } catch (e) {
      lastErr = e
      await sleep(300)
    }
  }
  if (!created) throw new Error(`stream create failed: ${lastErr && lastErr.message}`)
  // 3. a stream leader and, for R3, every replica current
  let leader = null
  const jsm = await nc.jetstreamManager({timeout: 2000})
  for (let i = 0; i < 100 && Date.now() < deadline; i++) {
    try {
      const info = await jsm.streams.info(STREAM)
      if (!info.cluster || !info.cluster.name) {
        leader = '(standalone)'
        break
      }
      leader = info.cluster.leader
      const reps = info.cluster.replicas || []
      if (leader && reps.length === replicas - 1 && reps.every((r) => r.current)) break
    } catch { /* settling */ }
    await sleep(200)
  }
  await nc.close()
  return {phase: 'setup', meta_leader: meta, stream: STREAM, replicas, stream_leader: leader}
}

async function pub() {
  const servers = loopbackList(args.servers, 'servers')
  const opts = loadOptions(args)
  const subject = `bench.${opts.mode}`
  const payload = new Uint8Array(opts.size).fill(120)
  const nc = await conn(servers)
  const js = nc.jetstream({timeout: opts.timeoutMs})
  const publish = () => js.publish(subject, payload, {timeout: opts.timeoutMs})
  const result = await measurePub({...opts, warm: publish, send: publish})
  await nc.drain()
  return {system: 'nats-jetstream', phase: `pub-${opts.mode}`, replicas: num('replicas', null), ...result}
}

async function failover() {
  const servers = loopbackList(args.servers, 'servers') // in the order of the names n1, n2, n3
  const pids = pidList(args.pids, servers)
  const names = Object.keys(pids)
  const ackTimeout = num('ack-timeout-ms', 500)
  const payload = new Uint8Array(num('size', 128)).fill(120)
  const subject = 'bench.failover'
  const admin = await conn(servers)
  const jsm = await admin.jetstreamManager({timeout: 2000})
  await jsm.streams.purge(STREAM)
  const leader = (await jsm.streams.info(STREAM)).cluster.leader
  const idx = names.indexOf(leader)
  if (idx < 0) throw new Error(`stream leader ${leader} not among ${names}`)
  let metaLeader = null
  if (args.http) {
    try { metaLeader = (await jsz(loopbackList(args.http, 'http')[idx === 0 ? 1 : 0])).meta_cluster.leader } catch { /* optional */ }
  }
  await admin.close()
  // the publisher talks to the two survivors only, so the gap is the stream leader's failover, not client reconnect
  const survivors = servers.filter((_, i) => i !== idx)
  log(`stream leader ${leader} (pid ${pids[leader]}), meta leader ${metaLeader}; publisher on ${survivors.join(',')}`)
  const nc = await conn(survivors)
  const js = nc.jetstream({timeout: ackTimeout})
  const warmup = 50
  for (let i = 0; i < warmup; i++) await js.publish(subject, payload)
  const {ackedIndexes, ...result} = await measureFailover({
    send: () => js.publish(subject, payload, {timeout: ackTimeout}),
    kill: () => process.kill(Number(pids[leader]), 'SIGKILL'),
    rate: num('rate', 200), killAfterMs: 2000, settleMs: 2000, maxS: num('max-s', 20),
  })
  // every acked message must be in the stream (no client retries, so no duplicates)
  let stored = null
  let newLeader = null
  const jsm2 = await nc.jetstreamManager({timeout: 2000})
  for (let i = 0; i < 20 && stored === null; i++) {
    try {
      const s = await jsm2.streams.info(STREAM)
      stored = s.state.messages
      newLeader = s.cluster.leader
    } catch { await sleep(250) }
  }
  await nc.close()
  return {
    system: 'nats-jetstream', phase: 'failover', replicas: 3, killed: leader, killed_was_meta_leader: metaLeader === leader,
    new_leader: newLeader, ack_timeout_ms: ackTimeout, ...result,
    stored_after: stored, acked_all_stored: stored === null ? null : stored >= ackedIndexes.length + warmup,
  }
}

main({setup, pub, failover}, args, 'usage: node bench.mjs setup|pub|failover --servers 127.0.0.1:PORT,...')
