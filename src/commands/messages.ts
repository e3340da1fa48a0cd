import {Flags} from '@oclif/core'
import type {MessageItem, MessagePage} from '../api/node-http.js'
import {ClusterHandle} from '../cluster/cluster.js'
import {clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {callJson} from '../client/node-http-client.js'
import {parseNodeRef} from '../cluster/node-args.js'
import {table} from '../cluster/output.js'

/** A stored message as `messages --json` prints it: `content`, the seed's copy of `body`, once is enough. */
type ListedMessage = Omit<MessageItem, 'content'>

interface MessagesResult {
  node: number
  node_id: string
  messages: ListedMessage[]
}

export default class Messages extends PadCommand<MessagesResult> {
  static override summary = 'List stored messages, newest first, as one node has them.'

  static override description = `Reads GET /messages of one node: the leader unless --node names another (every node \
stores the same messages in the same order once it has caught up; a node cut off from the others may be behind).`

  static override examples = [
    '<%= config.bin %> messages',
    '<%= config.bin %> messages --topic news --limit 5',
    '<%= config.bin %> messages --node 2 --oldest',
    '<%= config.bin %> messages --json',
  ]

  static override flags = {
    cluster: clusterFlag,
    topic: Flags.string({char: 't', description: 'only this topic'}),
    limit: Flags.integer({char: 'l', description: 'at most this many messages', default: 20, min: 1, max: 1000}),
    node: Flags.string({description: 'node index, or "leader" [default: the leader, else any running node]'}),
    oldest: Flags.boolean({description: 'oldest first'}),
  }

  async run(): Promise<MessagesResult> {
    const {flags} = await this.parse(Messages)
    const ref = flags.node === undefined ? undefined : parseNodeRef(flags.node)
    const cluster = await ClusterHandle.open(flags.cluster)
    const node = await cluster.target(ref)
    const query = new URLSearchParams({limit: String(flags.limit), order: flags.oldest ? 'oldest' : 'newest'})
    if (flags.topic !== undefined) query.set('topic', flags.topic)
    const page = await callJson<MessagePage>(node, 'GET', `/messages?${query}`, {timeoutMs: 5000})
    const answer = {messages: page.messages.map(({content: _content, ...message}): ListedMessage => message)}
    if (answer.messages.length === 0) {
      this.log(`No messages${flags.topic ? ` in topic "${flags.topic}"` : ''} on node ${node.index}.`)
    } else {
      const rows = answer.messages.map((m) => [`${m.topic}@${m.offset}`, m.timestamp, m.format, oneLine(m.body)])
      this.log(table(['MESSAGE', 'TIME', 'FORMAT', 'BODY'], rows))
    }
    return {node: node.index, node_id: node.node_id, messages: answer.messages}
  }
}

function oneLine(body: string, max = 120): string {
  const flat = body.replace(/\s+/g, ' ')
  return flat.length > max ? flat.slice(0, max - 1) + '…' : flat
}
