import {Flags} from '@oclif/core'
import type {TopicDetail, TopicsAnswer} from '../api/node-http.js'
import {ClusterHandle} from '../cluster/cluster.js'
import {clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {callJson} from '../client/node-http-client.js'
import {parseNodeRef} from '../cluster/node-args.js'
import {table} from '../cluster/output.js'

interface TopicsResult {
  node: number
  node_id: string
  topics: TopicDetail[]
}

export default class Topics extends PadCommand<TopicsResult> {
  static override summary = 'List the topics stored in the cluster, with their message counts.'

  static override description = `Reads GET /topics of one node: the leader unless --node names another. FIRST OFFSET is the \
oldest message kept (retention deleted those before it; 0 until it deletes any), NEXT OFFSET the one the next publish gets.

--json prints {"node", "node_id", "topics": [{"topic", "messages", "next_offset", "first_offset" (only once retention \
deleted messages of the topic)}]}.`

  static override examples = ['<%= config.bin %> topics', '<%= config.bin %> topics --node 2 --json']

  static override flags = {
    cluster: clusterFlag,
    node: Flags.string({description: 'node index, or "leader" [default: the leader, else any running node]'}),
  }

  async run(): Promise<TopicsResult> {
    const {flags} = await this.parse(Topics)
    const ref = flags.node === undefined ? undefined : parseNodeRef(flags.node)
    const cluster = await ClusterHandle.open(flags.cluster)
    const node = await cluster.target(ref)
    const {details: topics} = await callJson<TopicsAnswer>(node, 'GET', '/topics', {timeoutMs: 5000})
    if (topics.length === 0) this.log(`No topics yet on node ${node.index}: pad-cli publish news '{"hello":"world"}' makes one.`)
    else this.log(table(['TOPIC', 'MESSAGES', 'FIRST OFFSET', 'NEXT OFFSET'], topics.map((t) => [t.topic, String(t.messages), String(t.first_offset ?? 0), String(t.next_offset)])))
    return {node: node.index, node_id: node.node_id, topics}
  }
}
