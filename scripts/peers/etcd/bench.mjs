// pad-cli bench's workload against etcd (driven by run.sh; see docs/performance.md).
//
//   node bench.mjs setup    --hosts 127.0.0.1:12379,... [--max-s 30]
//   node bench.mjs pub      --hosts ... --replicas 3 --mode sync|window [--n 20000] [--window 256] [--size 128] [--max-s 15]
//   node bench.mjs failover --hosts ... --pids e1=PID,e2=PID,e3=PID [--rate 200] [--max-s 20]
//
// A "publish" is one Put of a fresh key (bench/<mode>/<i>) with a 128-byte value; it resolves once
// the entry is committed by a Raft quorum (WAL fsynced on each) and applied.
// Progress goes to stderr; the result is ONE JSON line on stdout. Only 127.0.0.1 is accepted.
import {noop} from 'cockatiel'
import {Etcd3} from 'etcd3'
import {loadOptions, log, loopbackList, main, measureFailover, measurePub, parseArgs, pidList, sleep} from './measure.mjs'

const args = parseArgs(process.argv.slice(2))
const num = (k, d) => (args[k] === undefined ? d : Number(args[k]))
const deadline = (ms) => ({deadline: Date.now() + ms})

// No client-side retries or circuit breakers: every call succeeds or fails on its own, so errors
// and the failover gap are the server's, not the client's back-off.
function client(hosts) {
  return new Etcd3({hosts: hosts.map((h) => `http://${h}`), dialTimeout: 3000, faultHandling: {global: noop, host: () => noop}})
}

/** member id -> its host, and the leader's id, asking each endpoint directly. */
async function memberMap(hosts) {
  const byId = {}
  let leaderId = null
  for (const h of hosts) {
    const c = client([h])
    try {
      const st = await c.maintenance.status(deadline(1000))
      byId[st.header.member_id] = h
      if (st.leader && st.leader !== '0') leaderId = st.leader
    } catch { /* endpoint down */ }
    c.close()
  }
  return {byId, leaderId}
}

async function setup() {
  const hosts = loopbackList(args.hosts, 'hosts')
  const stopAt = Date.now() + num('max-s', 30) * 1000
  let members = null
  let leaderName = null
  for (let i = 0; i < 150 && Date.now() < stopAt && !members; i++) {
    const c = client(hosts)
    try {
      const ml = await c.cluster.memberList({}, deadline(1000))
      const {leaderId} = await memberMap(hosts)
      const named = ml.members.filter((m) => m.name)
      if (leaderId && named.length === hosts.length) {
        await c.put('bench/ready').value('1').exec()
        members = named.map((m) => ({id: m.ID, name: m.name}))
        leaderName = (members.find((m) => m.id === leaderId) || {}).name
      }
    } catch { /* not ready */ }
    c.close()
    if (!members) await sleep(200)
  }
  if (!members) throw new Error('etcd cluster not ready before deadline')
  return {phase: 'setup', members: members.length, leader: leaderName}
}

async function pub() {
  const hosts = loopbackList(args.hosts, 'hosts')
  const opts = loadOptions(args)
  const value = Buffer.alloc(opts.size, 120)
  const prefix = `bench/${opts.mode}/`
  const put = (key) => c.put(key).value(value).options(deadline(opts.timeoutMs)).exec()
  const c = client(hosts)
  const result = await measurePub({...opts, warm: (i) => put(`${prefix}warm/${i}`), send: (i) => put(prefix + i)})
  c.close()
  return {system: 'etcd', phase: `pub-${opts.mode}`, replicas: num('replicas', null), ...result}
}

async function failover() {
  const hosts = loopbackList(args.hosts, 'hosts')
  const pids = pidList(args.pids, hosts)
  const names = Object.keys(pids)
  const callMs = num('call-timeout-ms', 500)
  const value = Buffer.alloc(num('size', 128), 120)
  const prefix = 'bench/failover/'
  const {byId, leaderId} = await memberMap(hosts)
  const idx = hosts.indexOf(byId[leaderId])
  if (idx < 0) throw new Error(`leader ${leaderId} not found among ${hosts}`)
  const leader = names[idx]
  const survivors = hosts.filter((_, i) => i !== idx)
  log(`leader ${leader} (pid ${pids[leader]}); client on ${survivors.join(',')}`)
  const c = client(survivors)
  for (let i = 0; i < 50; i++) await c.put(`${prefix}warm/${i}`).value(value).exec()
  const {ackedIndexes, ...result} = await measureFailover({
    send: (i) => c.put(prefix + i).value(value).options(deadline(callMs)).exec(),
    kill: () => process.kill(Number(pids[leader]), 'SIGKILL'),
    rate: num('rate', 200), killAfterMs: 2000, settleMs: 2000, maxS: num('max-s', 20),
  })
  // every acknowledged put must be readable afterwards
  let stored = null
  for (let i = 0; i < 20 && stored === null; i++) {
    try {
      const keys = new Set(await c.getAll().prefix(prefix).keys())
      stored = ackedIndexes.filter((k) => keys.has(prefix + k)).length
    } catch { await sleep(250) }
  }
  const after = await memberMap(survivors)
  c.close()
  return {
    system: 'etcd', phase: 'failover', replicas: 3, killed: leader, new_leader: names[hosts.indexOf(after.byId[after.leaderId])] ?? null,
    call_timeout_ms: callMs, ...result, acked_all_stored: stored === null ? null : stored === ackedIndexes.length,
  }
}

main({setup, pub, failover}, args, 'usage: node bench.mjs setup|pub|failover --hosts 127.0.0.1:PORT,...')
