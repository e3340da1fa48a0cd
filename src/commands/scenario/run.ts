import {Args, Flags} from '@oclif/core'
import {clusterLayout} from '../../cli/cluster-layout.js'
import {durationFlag} from '../../cli/duration.js'
import {fail} from '../../cli/fail.js'
import {clusterInterrupts} from '../../cli/interrupts.js'
import {PadCommand} from '../../cli/pad-command.js'
import {ClusterError} from '../../cluster/errors.js'
import {SLOW_FACTOR, SLOW_TIMING, checkSlow} from '../../cluster/node-args.js'
import {formatRunEvent, formatSummary} from '../../scenario/format.js'
import {loadScenario, ScenarioLoadError} from '../../scenario/load.js'
import {runScenario, type RunEvent, type ScenarioSummary} from '../../scenario/runner.js'
import type {Scenario} from '../../scenario/schema.js'

/** A pause after each step with --slow, for a person to look at top before the next one. */
const SLOW_PACE_MS = 3000

export default class ScenarioRun extends PadCommand<ScenarioSummary> {
  static override jsonLayout = 'line' as const

  static override summary = 'Play a scenario on real nodes, narrating each step and checking what it claims.'

  static override description = `Brings up a temporary cluster on its own ports (or takes the one named by --cluster), then \
plays the scenario's steps in order: before each one it says in plain words what will happen and what to watch in \
pad-cli top (it prints the command that watches this cluster), then does it (a fault, publishes, a wait, a check) and \
prints ✓ or ✗ with what it saw. Every line also goes into the cluster's timeline (pad-cli events -f). The first check \
that fails ends the run: exit 1, naming the step. The temporary cluster is always stopped; its folder is deleted when \
the run passes (kept with --keep, and when it fails).

SCENARIO is a built-in's name (pad-cli scenario list) or a path to a file of your own (docs/scenarios.md): \
YAML if it ends in .yaml or .yml (comments welcome), JSON otherwise. A file with a mistake is refused before \
anything starts, in one line naming the file and the line of the mistake.

--slow runs Raft ten times slower (election timeout ${SLOW_TIMING.electionTimeoutMs}ms, heartbeat ${SLOW_TIMING.heartbeatMs}ms), \
pauses ${SLOW_PACE_MS / 1000} s after each step, and stretches every wait of the scenario ${SLOW_FACTOR} times, so a class can follow an \
election in top. With --cluster, the cluster keeps its own timing (bring it up with pad-cli up --slow).

--json prints one JSON line per step result ({"type": "result", "step", "total", "kind", "title", "ok", "detail", "ms"}) \
and a last line with the summary ({"scenario", "passed", "steps", "ran", "failed_step": {number, line, title, detail} or null, \
"kept_dir", "ms"}).`

  static override examples = [
    '<%= config.bin %> scenario run leader-failure',
    '<%= config.bin %> scenario run network-partition --slow',
    '<%= config.bin %> scenario run ./my-scenario.yaml',
    '<%= config.bin %> scenario run ./my-scenario.json',
    '<%= config.bin %> up --slow && <%= config.bin %> scenario run leader-failure --cluster default',
    '<%= config.bin %> scenario run split-vote --nodes 5 --json',
  ]

  static override args = {
    scenario: Args.string({description: 'a built-in scenario (see pad-cli scenario list) or a path to a scenario file (.yaml, .yml or .json)', required: true}),
  }

  static override flags = {
    slow: Flags.boolean({description: `Raft ${SLOW_FACTOR}x slower, pauses between steps, waits ${SLOW_FACTOR}x longer: for people watching`}),
    nodes: Flags.integer({description: "nodes of the temporary cluster [default: the scenario's, usually 3]", min: 1, max: 9}),
    cluster: Flags.string({description: 'play it on this cluster (see pad-cli up) instead of a temporary one; it is left running and healed'}),
    host: Flags.string({description: 'address the nodes listen on', default: '127.0.0.1'}),
    'tcp-port': Flags.integer({description: 'first node TCP port of the temporary cluster (node i: +i)', default: 15200, min: 1, max: 65535}),
    'http-port': Flags.integer({description: 'first node HTTP port', default: 18280, min: 1, max: 65535}),
    'raft-port': Flags.integer({description: 'first node Raft port', default: 16200, min: 1, max: 65535}),
    'election-timeout': durationFlag({description: "the temporary cluster's election timeout [default: 150ms; 1500ms with --slow]", minMs: 1}),
    heartbeat: durationFlag({description: "the temporary cluster's heartbeat [default: 50ms; 500ms with --slow]", minMs: 1}),
    dir: Flags.string({description: "the temporary cluster's PAD_HOME [default: a new temp dir]"}),
    keep: Flags.boolean({description: "keep the temporary cluster's folder (data, logs, timeline) even when the run passes"}),
    json: Flags.boolean({description: 'one JSON line per step result, then the summary'}),
  }

  async run(): Promise<ScenarioSummary> {
    const {flags, args} = await this.parse(ScenarioRun)
    checkSlow(flags.slow, flags['election-timeout'], flags.heartbeat)
    if (flags.cluster !== undefined && flags.nodes !== undefined) this.usage('--nodes is for the temporary cluster: with --cluster the scenario runs on that cluster\'s nodes')
    const layout = clusterLayout({...flags, 'election-timeout': flags['election-timeout'] ?? 150, heartbeat: flags.heartbeat ?? 50})
    if (flags.slow) Object.assign(layout, SLOW_TIMING)
    if (layout.heartbeatMs >= layout.electionTimeoutMs) this.usage('--heartbeat must be shorter than --election-timeout')
    let scenario: Scenario
    try {
      scenario = loadScenario(args.scenario, {nodes: flags.nodes})
    } catch (error) {
      if (error instanceof ScenarioLoadError) return fail(this, error.message, 2)
      throw error
    }
    const json = this.jsonEnabled()
    const print = (event: RunEvent): void => {
      if (json) {
        if (event.type === 'result') this.jsonLine(event)
        else if (event.type === 'note') process.stderr.write(`note: ${event.text}\n`)
        return
      }
      if (event.type === 'cluster') this.log(`Scenario ${scenario.name}: ${scenario.summary}\n`)
      for (const line of formatRunEvent(event)) this.log(line)
    }

    // First Ctrl-C: stop after the current step and tear down. Second: kill the nodes now.
    const interrupts = clusterInterrupts('scenario: stopping after this step (Ctrl-C again to kill the nodes and quit)')
    let summary: ScenarioSummary
    try {
      summary = await runScenario({
        layout,
        scenario,
        scale: flags.slow ? SLOW_FACTOR : 1,
        paceMs: flags.slow ? SLOW_PACE_MS : 0,
        cluster: flags.cluster,
        dir: flags.dir,
        keep: flags.keep,
        report: print,
        signal: interrupts.signal,
        onCluster: interrupts.onCluster,
      })
    } catch (error) {
      if (error instanceof ClusterError) throw error
      return fail(this, `scenario ${scenario.name} could not run: ${(error as Error).message}`, 1)
    } finally {
      interrupts.dispose()
    }
    for (const line of formatSummary(summary)) this.log(line)
    if (!summary.passed) {
      // fail() exits at once, so the summary line goes out here (when it passes, oclif prints the returned one).
      if (json) this.jsonLine(summary)
      const step = summary.failed_step
      return fail(this, step ? `scenario ${scenario.name} failed at step ${step.number} (line ${step.line}) "${step.title}": ${step.detail}` : `scenario ${scenario.name} failed`, 1)
    }
    return summary
  }
}
