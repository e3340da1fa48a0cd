import {Flags} from '@oclif/core'
import {CORRUPT_FILE_NAMES, MAX_BITFLIP_BITS, MAX_TRUNCATE_BYTES, type ControlAnswers, type CorruptFileName} from '../api/control.js'
import {ClusterHandle} from '../cluster/cluster.js'
import {clusterFlag, nodeArg} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {parseNodeRef} from '../cluster/node-args.js'

export default class Corrupt extends PadCommand<ControlAnswers['corrupt']> {
  static override summary = "Damage a stopped node's database or WAL as a failing disk would: flip bits, or cut its end off (a test fault)."

  static override description = `Jepsen's file nemesis, for testing what the cluster does when one node's disk goes bad. \
--bitflip N flips N random bits in one random stretch (64 KiB) of the file; --truncate BYTES cuts that many bytes off its \
end. --file db (the default) is the node database, --file wal its write-ahead log. The node must be stopped (pad-cli stop, or pad-cli kill as \
a crash would); its WAL holds its latest writes until they are checkpointed into the database. Start the node afterwards: \
it checks its data as it starts (SQLite's quick_check, a checksum on every Raft entry and on the hard state) and on every \
later read; a node that finds it corrupt takes no part in Raft and says so in pad-cli status, until pad-cli repair. A flip \
in a free page or in a message body may go unnoticed. Destroys data: never on a cluster whose data you need.`

  static override examples = [
    '<%= config.bin %> stop 1 && <%= config.bin %> corrupt 1 --bitflip 64 && <%= config.bin %> start 1',
    '<%= config.bin %> kill 2 && <%= config.bin %> corrupt 2 --file wal --truncate 4096',
  ]

  static override args = {
    node: nodeArg,
  }

  static override flags = {
    cluster: clusterFlag,
    bitflip: Flags.integer({description: 'flip this many random bits in one random 64 KiB stretch of the file', min: 1, max: MAX_BITFLIP_BITS, exclusive: ['truncate']}),
    truncate: Flags.integer({description: 'cut this many bytes off the end of the file', min: 1, max: MAX_TRUNCATE_BYTES, exclusive: ['bitflip']}),
    file: Flags.string({description: 'which file: the node database (db) or its write-ahead log (wal)', options: [...CORRUPT_FILE_NAMES], default: 'db'}),
  }

  async run(): Promise<ControlAnswers['corrupt']> {
    const {args, flags} = await this.parse(Corrupt)
    if (flags.bitflip === undefined && flags.truncate === undefined) this.usage('give --bitflip N (bits to flip) or --truncate BYTES (bytes to cut)')
    const ref = parseNodeRef(args.node)
    const cluster = await ClusterHandle.open(flags.cluster)
    const how = flags.bitflip !== undefined ? {bitflip: flags.bitflip} : {truncate: flags.truncate}
    const answer = await cluster.request({op: 'corrupt', node: cluster.check(ref), file: flags.file as CorruptFileName, ...how})
    const what = answer.how === 'bitflip' ? `flipped ${answer.flipped} bits in bytes ${answer.range?.[0]}..${answer.range?.[1]}` : `cut ${answer.cut} bytes off its end (${answer.bytes_before} -> ${answer.bytes_after})`
    this.log(`node ${answer.node}: ${what} of ${answer.file}; start it with pad-cli start ${answer.node}${flags.cluster ? ` --cluster ${flags.cluster}` : ''}`)
    return answer
  }
}
