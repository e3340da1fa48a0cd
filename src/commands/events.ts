import {Flags} from '@oclif/core'
import {openFolder} from '../cluster/cluster.js'
import {clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {formatEvent, parseEvent, readEvents, type ClusterEvent} from '../cluster/events.js'
import {LineFollower} from '../cluster/tail.js'
import {untilInterrupted} from '../cli/interrupts.js'

export default class Events extends PadCommand {
  static override summary = "Show the cluster's timeline: starts, exits, crashes, kills, pauses, partitions, heals, transfers, elections, leader changes, snapshots, members added and removed, scenario narration."

  static override description = `The supervisor records every event in $PAD_HOME/<cluster>/events.jsonl; this prints it, \
also after the cluster is down. -f keeps printing new events as they happen (Ctrl-C stops).

--json prints the events as stored, one JSON object per line. Every event has "time" (ISO 8601), "seq" and "type"; \
the other fields by type: up {nodes, supervisor_pid}; down {}; recovered {supervisor_pid, killed}; start {node, pid}; \
exit {node, pid, code, signal, expected, crashed, log (the last lines of node.log, when crashed)}; kill, stop, pause, \
resume, restart {node, pid; a restart after a crash also reason: crashed, attempt, delay_ms}; partition {groups, shape, \
bridge, cuts, for_ms}; delay {node, ms, jitter_ms, for_ms}; loss {node, percent, for_ms}; heal {reason: command or \
expired, what}; transfer {from, to}; role {node, role, term}; election {term, winner, node_id}; leader {leader, previous, term}; \
snapshot-send {node, to, index, bytes, ms: node streamed its state as of log index "index" to node "to"}; \
snapshot-install {node, index, rows, ms}; member-add {node, pid, leader, via: the leader's HTTP address the node joined \
through, as a learner}; member-promote {node, index: its configuration entry, leader, ms: since it joined}; member-remove \
{node, index, leader, was_leader}; power-cut {nodes, dropped: per node {node, files, bytes, entries}, what it had not \
fsynced and lost; the nodes' kill and exit come before it, their start after}; corrupt {node, file, how: bitflip or truncate, flipped, range, bits, cut: what pad-cli \
corrupt did}; corrupt-found {node, file, reason: the node started and reports its data corrupt}; repair {node, replacement, \
kept: where its data dir was set aside, reason}; scenario {scenario, step, kind: say (what the step will do), check, pass or \
fail, text: a line of pad-cli scenario run's narration}; warning {message}.`

  static override examples = [
    '<%= config.bin %> events',
    '<%= config.bin %> events -f',
    '<%= config.bin %> events --json | jq -c \'select(.type == "election")\'',
    '<%= config.bin %> events -n 20',
  ]

  static override flags = {
    cluster: clusterFlag,
    follow: Flags.boolean({char: 'f', description: 'keep printing new events until Ctrl-C'}),
    lines: Flags.integer({char: 'n', description: 'only the last N events', min: 1}),
    json: Flags.boolean({description: 'one JSON object per line, as stored'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Events)
    const {paths} = openFolder(flags.cluster)
    const show = (event: ClusterEvent): void => (flags.json ? this.jsonLine(event) : this.log(formatEvent(event)))
    const print = (line: string): void => {
      const event = parseEvent(line)
      if (event) show(event)
    }
    const follower = flags.follow ? new LineFollower(paths.events, print) : null
    let events = readEvents(paths.events)
    if (flags.lines !== undefined) events = events.slice(-flags.lines)
    for (const event of events) show(event)
    if (!follower) return
    follower.start(200)
    await untilInterrupted()
    follower.stop()
  }
}
