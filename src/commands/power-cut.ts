import type {ControlAnswers, NodeRef} from '../api/control.js'
import {Args, Flags} from '@oclif/core'
import crypto from 'node:crypto'
import {ACTION_TIMEOUT_MS, ClusterHandle} from '../cluster/cluster.js'
import {clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {badArgument} from '../cluster/errors.js'
import {describeDrop} from '../cluster/events.js'
import {parseNodeRef} from '../cluster/node-args.js'

export default class PowerCut extends PadCommand<ControlAnswers['power-cut']> {
  static override summary = 'Cut the power of nodes: SIGKILL, drop every write they had not fsynced, start them again.'

  static override description = `Works on a cluster started with pad-cli up --lazy-fs (as root, with FUSE), whose nodes' data dirs \
are on the lazy layer: it holds what a node wrote until the node fsyncs it, as a disk's page cache does. A power cut \
kills each node named with SIGKILL and waits for its exit, then drops from its data dir every write not yet fsynced \
(and every create, rename or delete whose directory was not fsynced), then starts the node again on what survived. \
Several nodes, or --all, lose power together: all are killed before any is cut or started (a coordinated power loss, \
the fault Jepsen found NATS losing acknowledged writes to). A node that was not running is cut and left down.

--torn makes it a torn power cut: the same cut, then of each file's last unsynced write a prefix of \
whole 512-byte sectors survives (none, some or all of them, chosen by --seed, random when not given), as when \
the power fails in the middle of a disk write. It prints which files kept how many bytes. With pad-cli node's \
safe defaults (synchronous=FULL) this loses nothing acknowledged either.

Prints, per node, what was dropped (files, bytes, namespace entries) and the new pid; the timeline (pad-cli events) \
gets the kills, one power-cut event with the same figures, and the starts. With pad-cli node's safe defaults no \
acknowledged message is lost; with up --unsafe-no-fsync they are.

--json: {"nodes": [{"node", "previous_pid", "pid", "dropped": {"files", "bytes", "entries", "torn"?: {"count", "files": [{"path", "kept"}]}}}]}.`

  static override strict = false

  static override examples = [
    '<%= config.bin %> power-cut 1',
    '<%= config.bin %> power-cut leader',
    '<%= config.bin %> power-cut 0 2',
    '<%= config.bin %> power-cut --all   # every node at once',
    '<%= config.bin %> power-cut leader --torn --seed 7   # part of the last unsynced write survives'
  ]

  static override args = {
    nodes: Args.string({description: 'the nodes that lose power: indexes (0-based) or "leader", separated by spaces'}),
  }

  static override flags = {
    cluster: clusterFlag,
    all: Flags.boolean({description: 'every member at once (a coordinated power loss)'}),
    torn: Flags.boolean({description: 'a torn cut: of each file\'s last unsynced write, a seeded whole-sector prefix survives'}),
    seed: Flags.integer({description: 'the seed of a torn cut (0 to 2^53-1; default: random, printed)', min: 0, max: Number.MAX_SAFE_INTEGER, dependsOn: ['torn']}),
  }

  async run(): Promise<ControlAnswers['power-cut']> {
    const {argv, flags} = await this.parse(PowerCut)
    const texts = argv as string[]
    if (flags.all && texts.length > 0) throw badArgument('give nodes or --all, not both')
    if (!flags.all && texts.length === 0) throw badArgument('give the nodes to cut (e.g. pad-cli power-cut 1, or leader) or --all')
    const refs: NodeRef[] = texts.map((t) => parseNodeRef(t))
    if (new Set(refs).size !== refs.length) throw badArgument('a node is named twice')
    const cluster = await ClusterHandle.open(flags.cluster)
    for (const ref of refs) cluster.check(ref)
    const seed = flags.seed ?? crypto.randomInt(0, 2 ** 47)
    const tear = flags.torn ? {torn: true, seed} : {}
    if (flags.torn) this.log(`torn power cut, seed ${seed}`)
    const answer = await cluster.request(flags.all ? {op: 'power-cut', all: true, ...tear} : {op: 'power-cut', nodes: refs, ...tear}, ACTION_TIMEOUT_MS)
    for (const n of answer.nodes) {
      const after = n.pid === null ? 'it was not running and stays down' : `started again (pid ${n.pid})`
      this.log(`node ${n.node}: power cut${n.previous_pid === null ? '' : ` (pid ${n.previous_pid} killed)`}; dropped ${describeDrop(n.dropped)}; ${after}`)
    }
    return answer
  }
}
