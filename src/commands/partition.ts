import type {ControlAnswers} from '../api/control.js'
import {Args, Flags} from '@oclif/core'
import {ClusterHandle} from '../cluster/cluster.js'
import {clusterCommandLine, clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {badArgument} from '../cluster/errors.js'
import {formatMs} from '../cluster/events.js'
import {parseShape, SHAPES} from '../cluster/faults.js'
import {parseGroup} from '../cluster/node-args.js'
import {durationFlag} from '../cli/duration.js'
import {routeLines} from '../cluster/output.js'

export default class PartitionCommand extends PadCommand<ControlAnswers['partition']> {
  static override summary = 'Split the network between nodes: groups that cannot reach each other.'

  static override description = `Each argument is a group of nodes (indexes separated by commas, or "leader"); the nodes \
not named form one more group. Nodes in different groups cannot exchange Raft traffic, both ways; clients still reach \
every node, as on a real split. "partition 0" cuts node 0 off from the others; "partition 0,1 2" gives {0,1} | {2} | \
the rest. A new partition replaces the previous one; delay and loss stay.

--shape gives Jepsen's named shapes, with nodes in index order: halves (the first floor(n/2) nodes against the rest), \
bridge (the halves, but the first node of the second half still reaches everyone), ring (each node reaches its \
neighbours on a ring 0..n-1: every node sees a majority, no two the same; 4 nodes or more).

--for heals the partition by itself after that long; pad-cli heal removes every network fault at once.

--json prints the partition as applied: {"groups" (null for ring), "shape", "bridge", "order" (for a shape: the node \
order it was cut from), "cuts" (the pairs of nodes that cannot reach each other), "for_ms", "applied" (the nodes that \
took it now), "pending" (the nodes that get it when they run again), and for a cluster brought up with --netns \
"routes" (per node whose namespace changed: the unreachable routes to peer addresses "added" and "removed")}.

A cluster brought up with --netns is cut in the kernel, not in the nodes: each cut link gets an unreachable route to \
the other side's address in both nodes' namespaces (nothing crosses it; a new connection fails as to a host that is \
gone); the nodes' own fault filters are left alone. A node that is down keeps its routes and is cut when it starts.`

  static override strict = false

  static override examples = [
    '<%= config.bin %> partition 0',
    '<%= config.bin %> partition leader',
    '<%= config.bin %> partition 0,1 2',
    '<%= config.bin %> partition --shape halves',
    '<%= config.bin %> partition --shape bridge --for 10s',
  ]

  static override args = {
    groups: Args.string({description: 'groups of nodes, e.g. 0 or 0,1 2 (indexes separated by commas, or "leader")'}),
  }

  static override flags = {
    cluster: clusterFlag,
    shape: Flags.string({description: `a named shape instead of groups: ${SHAPES.join(', ')}`}),
    for: durationFlag({description: 'heal by itself after this long, e.g. 10s (a bare number is seconds)', unit: 's', minMs: 1}),
  }

  async run(): Promise<ControlAnswers['partition']> {
    const {argv, flags} = await this.parse(PartitionCommand)
    const texts = argv as string[]
    const shape = flags.shape === undefined ? undefined : parseShape(flags.shape)
    if (shape && texts.length > 0) throw badArgument('give either groups or --shape, not both')
    if (!shape && texts.length === 0) throw badArgument('give at least one group (e.g. pad-cli partition 0) or --shape halves|ring|bridge')
    const groups = texts.map((t) => parseGroup(t))
    const cluster = await ClusterHandle.open(flags.cluster)
    for (const group of groups) for (const ref of group) cluster.check(ref)
    const answer = await cluster.request({op: 'partition', groups, shape, for_ms: flags.for})
    const what =
      answer.groups && !answer.bridge
        ? answer.groups.map((g) => `{${g.join(',')}}`).join(' | ')
        : answer.shape === 'bridge'
          ? `${answer.groups!.map((g) => `{${g.join(',')}}`).join(' | ')}, node ${answer.bridge} bridging both`
          : `a ring: cut ${answer.cuts.map(([a, b]) => `${a}-${b}`).join(' ')}`
    const until = answer.for_ms ? `; heals by itself in ${formatMs(answer.for_ms)}` : `; \`${clusterCommandLine(cluster.name, 'heal')}\` ends it`
    this.log(`Partitioned: ${what}${until}.`)
    if (answer.routes) this.log(['Cut in the kernel (routes in each node\'s namespace):', ...routeLines(answer.routes)].join('\n'))
    if (answer.pending.length > 0) this.log(`Node(s) ${answer.pending.join(', ')} are not running: they get their faults when they are back.`)
    return answer
  }
}
