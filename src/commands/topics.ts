import {Flags} from '@oclif/core'
import {ClusterHandle} from '../cluster/cluster.js'
import {ClusterCommand, clusterFlag, jsonFlag} from '../cli/cluster-command.js'
import {callJson} from '../client/node-http-client.js'
import {parseNodeRef} from '../cluster/node-args.js'
import {table} from '../cluster/output.js'

export default class Topics extends ClusterCommand {
  static override summary = 'List the topics stored in the cluster, with their message counts.'

  static override description = 'Reads GET /topics of one node: the leader unless --node names another.'

  static override examples = ['<%= config.bin %> topics', '<%= config.bin %> topics --node 2 --json']

  static override flags = {
    cluster: clusterFlag,
    node: Flags.string({description: 'node index, or "leader" [default: the leader, else any running node]'}),
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Topics)
    const ref = flags.node === undefined ? undefined : parseNodeRef(flags.node)
    const cluster = await ClusterHandle.open(flags.cluster)
    const node = await cluster.target(ref)
    const answer = await callJson<{topics: {topic: string; messages: number; next_offset: number}[]}>(node, 'GET', '/topics', {timeoutMs: 5000})
    if (flags.json) {
      this.printJson({node: node.index, node_id: node.node_id, topics: answer.topics})
      return
    }
    if (answer.topics.length === 0) {
      this.log(`No topics yet on node ${node.index}: pad-cli publish news '{"hello":"world"}' makes one.`)
      return
    }
    this.log(table(['TOPIC', 'MESSAGES', 'NEXT OFFSET'], answer.topics.map((t) => [t.topic, String(t.messages), String(t.next_offset)])))
  }
}
