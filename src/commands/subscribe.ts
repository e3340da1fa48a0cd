import {Args, Flags} from '@oclif/core'
import {clientErrorText} from '../cli/client-error.js'
import {onInterrupts} from '../cli/interrupts.js'
import {PadCommand} from '../cli/pad-command.js'
import {clientAddress, flagGiven} from '../cluster/cluster.js'
import {badArgument} from '../cluster/errors.js'
import {connectWhenListening} from '../client/connect-when-listening.js'
import {durationFlag} from '../cli/duration.js'
import type {BrokerMessage, TrimmedNotice} from '../client/broker-client.js'

export default class Subscribe extends PadCommand {
  static override summary = 'Print the messages of one or more topics as they arrive.'

  static override description = `Topic patterns: "*" matches one segment, ">" the rest, "all" every topic. \
Messages arrive in commit order with their offsets. Runs until Ctrl-C, or until --count messages have arrived. \
When the cluster's retention deletes messages before this subscriber reads them (it fell behind), one line on stderr \
says which offsets of which topic it missed, and the messages go on from the first one kept.`

  static override examples = [
    '<%= config.bin %> subscribe news',
    "<%= config.bin %> subscribe 'orders.*' --from beginning",
    '<%= config.bin %> subscribe news --from 42 --count 10 --json',
    '<%= config.bin %> subscribe news --node 2   # from node 2 of the running cluster (pad-cli up)',
  ]

  static override strict = false

  static override args = {
    topics: Args.string({description: 'topic patterns to subscribe to', required: true}),
  }

  static override flags = {
    from: Flags.string({description: 'where to start: latest, beginning, or an offset', default: 'latest'}),
    count: Flags.integer({char: 'n', description: 'exit after this many messages', min: 1}),
    json: Flags.boolean({description: 'print each message as one JSON line'}),
    host: Flags.string({description: 'node address (without --host/--port: a node of the running cluster, else 127.0.0.1)', default: '127.0.0.1'}),
    port: Flags.integer({char: 'p', description: 'node TCP port (without --host/--port: a node of the running cluster, else 5000)', default: 5000, min: 1, max: 65535}),
    node: Flags.string({description: 'node of the cluster to connect to: an index, or "leader" [default: the leader, else any running node]'}),
    cluster: Flags.string({description: 'cluster to use (pad-cli up) [default: "default", when it is up]'}),
    'connect-timeout': durationFlag({
      description: 'how long to keep trying while the node refuses connections (it may be starting); 0 tries once',
      default: 5000,
      defaultHelp: async () => '5s',
    }),
  }

  async run(): Promise<void> {
    const {argv, flags, raw} = await this.parse(Subscribe)
    const topics = argv as string[]
    const from = parseFrom(flags.from)
    if (from === null) throw badArgument(`--from must be latest, beginning or an offset (got "${flags.from}")`)
    const address = await clientAddress({...flags, explicit: flagGiven(raw, ['host', 'port'])})
    const client = await connectWhenListening(address.host, address.port, flags['connect-timeout'])
    let received = 0
    let finish: () => void = () => {}
    const done = new Promise<'done'>((resolve) => (finish = () => resolve('done')))
    const onMessage = (message: BrokerMessage): void => {
      if (flags.count !== undefined && received >= flags.count) return
      received++
      if (flags.json) this.jsonLine(message)
      else this.log(`${message.topic}@${message.offset} ${message.body}`)
      if (flags.count !== undefined && received >= flags.count) finish()
    }
    try {
      // Stdout holds the messages; a gap is said on stderr, and the messages go on.
      const onTrimmed = (notice: TrimmedNotice): void => void process.stderr.write(`pad-cli subscribe: ${notice.message}\n`)
      await client.subscribe(topics, from, onMessage, onTrimmed)
    } catch (error) {
      client.close()
      throw new Error(clientErrorText(error))
    }
    const offInterrupts = onInterrupts({first: finish})
    const outcome = await Promise.race([done, client.closed().then(() => 'closed' as const)])
    offInterrupts()
    client.close()
    if (outcome === 'closed') throw new Error(`the node at ${client.address} closed the connection`)
  }
}

function parseFrom(value: string): 'latest' | 'beginning' | number | null {
  if (value === 'latest' || value === 'beginning') return value
  if (/^\d+$/.test(value)) return Number(value)
  return null
}
