import {Args, Flags} from '@oclif/core'
import {clientAddress, flagGiven} from '../cluster/cluster.js'
import {connectWhenListening} from '../client/connect-when-listening.js'
import {durationFlag} from '../cli/duration.js'
import {ClientError, type BrokerClient, type PublishAck} from '../client/broker-client.js'
import type {Format} from '../broker/formats.js'
import {clientErrorText} from '../cli/client-error.js'
import {PadCommand} from '../cli/pad-command.js'
import {readStdin} from '../cli/read-stdin.js'
import {detectFormat} from '../cli/body-format.js'

/** The acknowledgement, with the format the body was sent in and whether it was detected. */
type PublishResult = PublishAck & {format: Format; format_detected: boolean}

export default class Publish extends PadCommand<PublishResult> {
  static override jsonLayout = 'line' as const

  static override summary = 'Publish one message and wait for its acknowledgement.'

  static override description = `Prints the topic and offset the message was stored at. The acknowledgement comes \
once the message is committed. With body "-" the body is read from stdin. Without --format the format is detected \
and printed: a body that parses as JSON is JSON, one that is well-formed XML is XML, anything else RAW; a body that \
starts like JSON ({ or [) or XML (<) but does not parse is refused, as a JSON body that does not parse and an XML \
body that is not well-formed always are (--format raw stores it as it is).`

  static override examples = [
    `<%= config.bin %> publish news '{"headline":"hello"}'`,
    '<%= config.bin %> publish news hello                       # stored as RAW: it is not JSON or XML',
    `<%= config.bin %> publish orders --format xml '<order id="7"/>'`,
    'echo "plain text" | <%= config.bin %> publish logs - --format raw',
    `<%= config.bin %> publish news '{"n":1}' --id order-1   # publishing the same id again stores nothing new`,
    `<%= config.bin %> publish news '{"n":2}' --node 1         # through node 1 of the running cluster (pad-cli up)`,
    `<%= config.bin %> publish news '{"n":3}' --port 5001      # to the node at 127.0.0.1:5001`,
  ]

  static override args = {
    topic: Args.string({description: 'topic to publish to (dot-separated, e.g. orders.eu)', required: true}),
    body: Args.string({description: 'message body, or - to read it from stdin', required: true}),
  }

  static override flags = {
    format: Flags.string({char: 'f', description: 'body format [default: detected from the body]', options: ['json', 'xml', 'raw']}),
    id: Flags.string({description: 'dedup id: a publish with an id seen before returns the original offset'}),
    host: Flags.string({description: 'node address (without --host/--port: a node of the running cluster, else 127.0.0.1)', default: '127.0.0.1'}),
    port: Flags.integer({char: 'p', description: 'node TCP port (without --host/--port: a node of the running cluster, else 5000)', default: 5000, min: 1, max: 65535}),
    node: Flags.string({description: 'node of the cluster to connect to: an index, or "leader" [default: the leader, else any running node]'}),
    cluster: Flags.string({description: 'cluster to use (pad-cli up) [default: "default", when it is up]'}),
    'connect-timeout': durationFlag({
      description: 'how long to keep trying while the node refuses connections (it may be starting); 0 tries once',
      default: 5000,
      defaultHelp: async () => '5s',
    }),
    json: Flags.boolean({description: 'print the acknowledgement as JSON (one line)'}),
  }

  async run(): Promise<PublishResult> {
    const {args, flags, raw} = await this.parse(Publish)
    const body = args.body === '-' ? await readStdin() : args.body
    const address = await clientAddress({...flags, explicit: flagGiven(raw, ['host', 'port'])})
    const detected = flags.format === undefined
    const format = detected ? detectFormat(body) : (flags.format!.toUpperCase() as Format)
    let client: BrokerClient | null = null
    try {
      client = await connectWhenListening(address.host, address.port, flags['connect-timeout'])
      const ack = await client.publish({topic: args.topic, format, body, id: flags.id})
      this.log(`${ack.duplicate ? 'duplicate of' : 'stored'} ${ack.topic}@${ack.offset}${detected ? ` (detected format: ${format})` : ''}`)
      return {...ack, format, format_detected: detected}
    } catch (error) {
      const hint = detected && error instanceof ClientError && error.code === 'BAD_REQUEST' && /^body /.test(error.message) ? ` (sent as ${format}, as it looks like ${format}; --format raw stores it as it is)` : ''
      throw new Error(clientErrorText(error) + hint)
    } finally {
      client?.close()
    }
  }
}
