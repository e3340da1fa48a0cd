import fs from 'node:fs'
import path from 'node:path'
import {DEFAULT_RUN, runChaos, type ChaosRunOptions, type ChaosRunResult} from '../../../src/chaos/run.js'
import {cliArgs, freePort} from './node-process.js'

/** What a test sets of a chaos run; the rest is DEFAULT_RUN, the ports and the folder. */
export type ChaosTestOptions = Partial<ChaosRunOptions> & Pick<ChaosRunOptions, 'seed' | 'log' | 'replay'>

/**
 * Runs chaos on ports below the ephemeral range (32768+, so no outgoing connection holds one),
 * taking another base when one is in use (at most three tries). The bases are `spacing` apart:
 * node i listens on base + i, and a run that adds nodes needs room for them.
 */
export async function runChaosOnFreePorts(dir: string, options: ChaosTestOptions, spacing = 10): Promise<ChaosRunResult | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const base = 20_000 + ((await freePort()) % (12_000 - 2 * spacing))
    try {
      return await runChaos({
        ...DEFAULT_RUN,
        tcpPort: base,
        httpPort: base + spacing,
        raftPort: base + 2 * spacing,
        dir: path.join(dir, `cluster-${attempt}`),
        keep: true,
        cli: {command: process.execPath, args: cliArgs()},
        ...options,
      })
    } catch (error) {
      if (!/in use/.test((error as Error).message)) throw error
    }
  }
  return null
}

/** The pids of every node process the run started, as the cluster's timeline records them. */
export function startedPids(clusterDir: string): Set<number> {
  const pids = new Set<number>()
  const events = fs
    .readFileSync(path.join(clusterDir, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as {type: string; pid?: number})
  for (const event of events) if (event.type === 'start' && typeof event.pid === 'number') pids.add(event.pid)
  return pids
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
