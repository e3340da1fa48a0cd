// The workload of `pad-cli bench`, for a peer's client (shared by nats/bench.mjs and etcd/bench.mjs):
// one publish at a time or a window in flight, and the open-loop leader-kill failover. A peer's
// bench.mjs supplies only how to send one message and how to kill its leader; the loops, the
// percentiles and the JSON line's fields are the same for every system, so their lines compare
// field by field with `pad-cli bench --json`.
// Every loop is bounded in count and in time.
import {performance} from 'node:perf_hooks'
import {clearInterval, setInterval, setTimeout} from 'node:timers'

/** `--key value` pairs and bare words; a flag without a value is "true". */
export function parseArgs(argv) {
  const out = {_: []}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a.startsWith('--')) {
      const v = argv[i + 1] !== undefined && !argv[i + 1].startsWith('--') ? argv[++i] : 'true'
      out[a.slice(2)] = v
    } else out._.push(a)
  }
  return out
}

export const log = (...m) => console.error(`[bench ${new Date().toISOString().slice(11, 23)}]`, ...m)
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
export const r3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000)

/** The comma-separated host:port list, refusing anything but 127.0.0.1: these scripts load a local cluster only. */
export function loopbackList(s, flag) {
  const list = String(s || '').split(',').filter(Boolean)
  if (list.length === 0) throw new Error(`--${flag} is required`)
  for (const hp of list) if (!/^127\.0\.0\.1:\d+$/.test(hp)) throw new Error(`refusing non-loopback address ${hp}`)
  return list
}

/** name=pid,... in the order of the servers. */
export function pidList(s, servers) {
  const pids = Object.fromEntries(String(s || '').split(',').filter(Boolean).map((kv) => kv.split('=')))
  if (Object.keys(pids).length !== servers.length) throw new Error('--pids must name one pid per server, in order')
  return pids
}

function pct(sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** The options of `bench.mjs pub`, with pad-cli bench's defaults. */
export function loadOptions(args) {
  const num = (k, d) => (args[k] === undefined ? d : Number(args[k]))
  const mode = args.mode || 'sync'
  if (!['sync', 'window'].includes(mode)) throw new Error('--mode sync|window')
  return {
    mode, size: num('size', 128), warmup: num('warmup', 500), timeoutMs: num('ack-timeout-ms', 5000),
    n: num('n', mode === 'sync' ? 20_000 : 150_000), window: num('window', 256), maxS: num('max-s', 15),
  }
}

/**
 * One measured phase: first `warm(i)` `warmup` times, one at a time and not measured (as pad-cli
 * bench's --warmup); then `send(i)` publishes message i and resolves on its ack. Sync mode awaits
 * each; window mode keeps `window` in flight. Stops at n messages or maxS seconds (capped: true).
 * Returns the fields of a `pad-cli bench --json` load line.
 */
export async function measurePub({warm, send, mode, n, window, size, maxS, warmup}) {
  for (let i = 0; i < warmup; i++) await warm(i)
  const W = mode === 'sync' ? 1 : window
  const lat = new Float64Array(n)
  let sent = 0
  let acked = 0
  let errors = 0
  let capped = false
  let firstErr = null
  const errorKinds = {}
  const fail = (e) => {
    errors++
    firstErr ??= e.message
    const kind = String(e.code ?? e.message ?? 'error').slice(0, 40)
    errorKinds[kind] = (errorKinds[kind] || 0) + 1
  }
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const stopAt = t0 + maxS * 1000
  await new Promise((resolve) => {
    let inflight = 0
    const pump = () => {
      while (inflight < W && sent < n) {
        if (performance.now() > stopAt) {
          capped = true
          break
        }
        const ts = performance.now()
        const i = sent++
        inflight++
        send(i).then(() => {
          lat[acked++] = performance.now() - ts
        }, fail).finally(() => {
          inflight--
          if (sent < n && !capped) pump()
          else if (inflight === 0) resolve()
        })
      }
      if ((sent >= n || capped) && inflight === 0) resolve()
    }
    pump()
  })
  const elapsed = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const sorted = Array.from(lat.subarray(0, acked)).sort((a, b) => a - b)
  const res = {
    mode, size, window: W, connections: 1, n_target: n, sent, acked, errors, error_kinds: errorKinds, capped,
    elapsed_s: r3(elapsed),
    msgs_per_s: Math.round(acked / elapsed),
    p50_ms: r3(pct(sorted, 50)), p99_ms: r3(pct(sorted, 99)), max_ms: r3(sorted.at(-1) ?? null),
    client_cpu_s: r3((cpu.user + cpu.system) / 1e6),
    warmup,
  }
  if (firstErr) res.first_error = firstErr
  return res
}

/**
 * Open-loop publishing at `rate`/s, each with its own ack timeout inside `send`; after killAfterMs,
 * `kill()` SIGKILLs the leader. gap_s: the kill -> the first ack of a publish sent after it. Stops
 * settleMs after that ack, or at maxS. Returns the counts and the sent indexes that were acked.
 */
export async function measureFailover({send, kill, rate, killAfterMs, settleMs, maxS}) {
  const t0 = performance.now()
  let killAt = null
  let firstOkAfterKill = null
  let lastOkBeforeKill = null
  let sent = 0
  let inflight = 0
  let ackedAfterKill = 0
  const ackedIndexes = []
  let errors = 0
  const errorKinds = {}
  const maxMsgs = Math.ceil(rate * maxS) + 10
  const intervalMs = 1000 / rate
  await new Promise((resolve) => {
    const drain = () => {
      let polls = 0
      const t = setInterval(() => {
        if (inflight === 0 || ++polls > 100) {
          clearInterval(t)
          resolve()
        }
      }, 20)
    }
    const tick = setInterval(() => {
      const now = performance.now()
      if (killAt === null && now - t0 >= killAfterMs) {
        kill()
        killAt = performance.now()
      }
      const done = (firstOkAfterKill !== null && now - firstOkAfterKill >= settleMs) || now - t0 > maxS * 1000 || sent >= maxMsgs
      if (done) {
        clearInterval(tick)
        drain()
        return
      }
      // catch up on timer drift: send the publishes that are due
      const due = Math.floor((now - t0) / intervalMs) - sent
      for (let k = 0; k < Math.min(due, 50); k++) {
        const ts = performance.now()
        const i = sent++
        inflight++
        send(i).then(() => {
          const ta = performance.now()
          ackedIndexes.push(i)
          if (killAt === null) lastOkBeforeKill = ta
          else if (ts >= killAt) {
            ackedAfterKill++
            firstOkAfterKill ??= ta
          }
        }, (e) => {
          errors++
          const kind = String(e.code ?? e.message ?? 'error').slice(0, 40)
          errorKinds[kind] = (errorKinds[kind] || 0) + 1
        }).finally(() => {
          inflight--
        })
      }
    }, Math.max(1, Math.floor(intervalMs)))
  })
  return {
    rate_per_s: rate,
    gap_s: killAt !== null && firstOkAfterKill !== null ? r3((firstOkAfterKill - killAt) / 1000) : null,
    last_ok_before_kill_s: killAt !== null && lastOkBeforeKill !== null ? r3((killAt - lastOkBeforeKill) / 1000) : null,
    sent, acked: ackedIndexes.length, acked_after_kill: ackedAfterKill, errors, error_kinds: errorKinds,
    ackedIndexes,
  }
}

/** Runs the named command of `cmds` with a hard time limit; the result is ONE JSON line on stdout. */
export function main(cmds, args, usage) {
  const cmd = cmds[args._[0]]
  if (!cmd) {
    console.error(usage)
    process.exit(2)
  }
  const maxS = args['max-s'] === undefined ? 20 : Number(args['max-s'])
  setTimeout(() => {
    console.error('bench: hard time limit reached')
    process.exit(3)
  }, (maxS + 40) * 1000).unref()
  cmd().then((line) => {
    console.log(JSON.stringify(line))
    process.exit(0)
  }, (e) => {
    console.error('bench error:', (e && e.stack) || e)
    process.exit(1)
  })
}
