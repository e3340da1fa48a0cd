// Runs the deterministic Raft simulation from the command line.
//
//   npm run sim -- --seeds 100000 --nodes 5           # seeds 1..100000, summary + failures
//   npm run sim -- --seeds 1000 --from 5000 --nodes 3,5
//   npm run sim -- --seed 12345 --nodes 5 --trace     # replay one seed, print its schedule and events
//   npm run sim -- --seeds 300 --nodes 3 --bug commitPreviousTermByCounting   # hunt a planted bug
//
// Exit status 1 if any seed violated a property; every failure prints the command replaying it.
import {replayCommand, runSimulation, type FaultCounts, type SimResult} from './sim.js'
import type {PlantedBugs} from '../../src/raft/config.js'

const BUGS: (keyof PlantedBugs)[] = [
  'voteWithoutUpToDateCheck',
  'twoVotesPerTerm',
  'commitPreviousTermByCounting',
  'replyBeforePersisting',
  'forgetTermOnRestart',
  'installOlderSnapshot',
  'sendCompactedEntries',
]

interface Args {
  seed?: number
  seeds: number
  from: number
  nodes: number[]
  bugs: PlantedBugs
  trace: boolean
  progress: number
  maxFailures: number
  noDurabilityChecks: boolean
}

function usage(msg?: string): never {
  if (msg) console.error(`sim: ${msg}`)
  console.error(
    'usage: npm run sim -- [--seeds N] [--from S] [--seed S] [--nodes 3|5|3,5] [--bug NAME]... [--trace] [--progress N] [--max-failures N] [--no-durability-checks]\n' +
      `planted bugs: ${BUGS.join(', ')}`,
  )
  process.exit(2)
}

function parseArgs(argv: string[]): Args {
  const a: Args = {seeds: 100, from: 1, nodes: [3], bugs: {}, trace: false, progress: 0, maxFailures: 20, noDurabilityChecks: false}
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) usage(`${flag} needs a value`)
      return v
    }
    const int = (): number => {
      const v = Number(value())
      if (!Number.isInteger(v) || v < 0) usage(`${flag} needs a non-negative integer`)
      return v
    }
    switch (flag) {
      case '--seed':
        a.seed = int()
        break
      case '--seeds':
        a.seeds = int()
        break
      case '--from':
        a.from = int()
        break
      case '--nodes':
        a.nodes = value()
          .split(',')
          .map((x) => Number(x))
        if (a.nodes.some((n) => !Number.isInteger(n) || n < 1 || n > 9)) usage('--nodes takes cluster sizes 1..9, comma separated')
        break
      case '--bug': {
        const b = value() as keyof PlantedBugs
        if (!BUGS.includes(b)) usage(`unknown bug ${b}`)
        a.bugs[b] = true
        break
      }
      case '--trace':
        a.trace = true
        break
      case '--progress':
        a.progress = int()
        break
      case '--max-failures':
        a.maxFailures = int()
        break
      case '--no-durability-checks':
        a.noDurabilityChecks = true
        break
      case '--help':
      case '-h':
        usage()
        break
      default:
        usage(`unknown argument ${flag}`)
    }
  }
  return a
}

function addFaults(into: FaultCounts, f: FaultCounts): void {
  for (const k of Object.keys(f) as (keyof FaultCounts)[]) into[k] += f[k]
}

function fmtFaults(f: FaultCounts): string {
  return `dropped ${f.dropped}, duplicated ${f.duplicated}, reordered ${f.reordered}, partitions ${f.partitions}, crashes ${f.crashes}, compactions ${f.compactions}, transfers ${f.transfers}, membership changes ${f.confChanges} (${f.confRefusals} refused)`
}

function printOne(r: SimResult, trace: boolean, bugs: PlantedBugs, durability: boolean): void {
  console.log(`seed ${r.seed}, ${r.nodes} nodes, schedule:`)
  console.log(JSON.stringify(r.schedule))
  if (trace) for (const line of r.trace) console.log(line)
  console.log(
    `steps ${r.steps}, virtual time ${r.virtualMs} ms, messages ${r.messages}, elections ${r.elections}, proposals accepted ${r.proposalsAccepted}, ` +
      `applied everywhere ${r.committed}, stable leader ${r.leaderAfterHealMs} ms after healing`,
  )
  console.log(`faults: ${fmtFaults(r.faults)}`)
  console.log(`snapshots: sent ${r.snapshotsSent}, installed ${r.snapshotsInstalled}`)
  if (r.ok) console.log('OK: no violation')
  else {
    if (!trace) {
      console.log('last events:')
      for (const line of r.trace.slice(-25)) console.log(line)
    }
    console.log(`VIOLATION: ${r.violation}`)
    console.log(`replay: ${replayCommand(r.seed, r.nodes, bugs)}${durability ? '' : ' --no-durability-checks'}`)
  }
}

function main(): void {
  const args = parseArgs(process.argv.slice(2))
  const durability = !args.noDurabilityChecks
  if (args.seed !== undefined) {
    let failed = false
    for (const nodes of args.nodes) {
      const r = runSimulation({seed: args.seed, nodes, bugs: args.bugs, trace: args.trace, durabilityChecks: durability})
      printOne(r, args.trace, args.bugs, durability)
      failed ||= !r.ok
    }
    // exitCode, not exit(): a long trace written to a pipe must be flushed first.
    process.exitCode = failed ? 1 : 0
    return
  }

  const started = performance.now()
  const faults: FaultCounts = {dropped: 0, duplicated: 0, reordered: 0, partitions: 0, crashes: 0, compactions: 0, transfers: 0, confChanges: 0, confRefusals: 0}
  let schedules = 0
  let steps = 0
  let virtualMs = 0
  let messages = 0
  let elections = 0
  let proposals = 0
  let applied = 0
  let worstLeaderMs = 0
  let snapshotsSent = 0
  let snapshotsInstalled = 0
  const failures: SimResult[] = []
  const bugNames = Object.keys(args.bugs)
  console.log(
    `sim: seeds ${args.from}..${args.from + args.seeds - 1}, nodes ${args.nodes.join(',')}` + (bugNames.length ? `, planted bugs: ${bugNames.join(', ')}` : ''),
  )
  outer: for (let seed = args.from; seed < args.from + args.seeds; seed++) {
    for (const nodes of args.nodes) {
      const r = runSimulation({seed, nodes, bugs: args.bugs, durabilityChecks: durability})
      schedules++
      steps += r.steps
      virtualMs += r.virtualMs
      messages += r.messages
      elections += r.elections
      proposals += r.proposalsAccepted
      applied += r.committed
      worstLeaderMs = Math.max(worstLeaderMs, r.leaderAfterHealMs)
      snapshotsSent += r.snapshotsSent
      snapshotsInstalled += r.snapshotsInstalled
      addFaults(faults, r.faults)
      if (!r.ok) {
        failures.push(r)
        console.log(`FAIL seed ${seed} (${nodes} nodes): ${r.violation?.split('\n')[0]}`)
        console.log(`  replay: ${replayCommand(seed, nodes, args.bugs)}${durability ? '' : ' --no-durability-checks'}`)
        if (failures.length >= args.maxFailures) {
          console.log(`stopping after ${failures.length} failures`)
          break outer
        }
      }
      if (args.progress > 0 && schedules % args.progress === 0) {
        const s = (performance.now() - started) / 1000
        console.log(`  ... ${schedules} schedules, ${steps} steps, ${failures.length} failures, ${s.toFixed(0)} s`)
      }
    }
  }
  const secs = (performance.now() - started) / 1000
  console.log(`schedules ${schedules}, steps ${steps}, virtual time ${(virtualMs / 1000).toFixed(0)} s, messages ${messages}, elections ${elections}`)
  console.log(`proposals accepted ${proposals}, entries applied on every node ${applied}, worst time to a stable leader after healing ${worstLeaderMs} ms`)
  console.log(`faults: ${fmtFaults(faults)}`)
  const perSchedule = (x: number): string => (schedules > 0 ? (x / schedules).toFixed(1) : '0')
  console.log(`snapshots sent ${snapshotsSent} (${perSchedule(snapshotsSent)} per schedule), installed ${snapshotsInstalled} (${perSchedule(snapshotsInstalled)} per schedule)`)
  console.log(`violations ${failures.length}; wall time ${secs.toFixed(1)} s (${((steps / secs) | 0).toLocaleString('en-US')} steps/s)`)
  process.exitCode = failures.length > 0 ? 1 : 0
}

main()
