/**
 * What a key does: `planAction` turns a key, the selected node and the snapshot into an
 * action (the supervisor request or node call, and the equivalent pad-cli command shown in
 * the timeline), or a refusal. Pure, so the keys can be tested without a cluster. Which keys
 * exist and what the help says of them is keys.ts's table.
 */
import {DEFAULT_CLUSTER} from '../cluster/layout.js'
import type {TopSnapshot} from './model.js'

export type NodeOpName = 'kill' | 'stop' | 'start' | 'restart' | 'pause' | 'resume'

export type Action =
  | {kind: 'node-op'; op: NodeOpName; node: number; command: string}
  | {kind: 'partition'; node: number; command: string}
  | {kind: 'heal'; command: string}
  | {kind: 'transfer'; from: number; to: number; command: string}
  | {kind: 'add'; command: string}
  | {kind: 'remove'; node: number; command: string}
  | {kind: 'power-cut'; node: number; command: string}
  | {kind: 'publisher'; on: boolean; command: string}
  | {kind: 'refuse'; message: string}

export const PUBLISH_RATE = 20
export const PUBLISH_TOPIC = 'top-demo'

export function planAction(key: string, selected: number, snapshot: TopSnapshot): Action | null {
  const flag = snapshot.cluster === DEFAULT_CLUSTER ? '' : ` --cluster ${snapshot.cluster}`
  const node = snapshot.nodes[selected]
  const cmd = (text: string): string => `pad-cli ${text}${flag}`
  const needNode = (): Action | null => {
    if (!node) return {kind: 'refuse', message: 'no node selected'}
    return node.membership === 'removed' ? {kind: 'refuse', message: `node ${selected} was removed from the cluster (pad-cli remove): nothing to do with it`} : null
  }
  switch (key) {
    case 'x':
    case 's':
      return needNode() ?? nodeOp(key === 'x' ? 'kill' : 'stop', selected, cmd)
    case 'r':
      return needNode() ?? nodeOp(node.process === 'running' || node.process === 'paused' ? 'restart' : 'start', selected, cmd)
    case 'p': {
      const refusal = needNode()
      if (refusal) return refusal
      if (node.process === 'paused') return nodeOp('resume', selected, cmd)
      if (node.process !== 'running') return {kind: 'refuse', message: `node ${selected} is not running (${node.process}): r starts it`}
      return nodeOp('pause', selected, cmd)
    }
    case 'i':
      return needNode() ?? {kind: 'partition', node: selected, command: cmd(`partition ${selected}`)}
    case 'h':
      return {kind: 'heal', command: cmd('heal')}
    case 'a':
      return {kind: 'add', command: cmd('add')}
    case 'd':
      return needNode() ?? {kind: 'remove', node: selected, command: cmd(`remove ${selected}`)}
    case 'w':
      // A cluster without the lazy layer refuses it, and the timeline says so.
      return needNode() ?? {kind: 'power-cut', node: selected, command: cmd(`power-cut ${selected}`)}
    case 't': {
      if (!node) return {kind: 'refuse', message: 'no node selected'}
      if (node.role !== 'LEADER') return {kind: 'refuse', message: `node ${selected} is not the leader: select the leader to transfer leadership away`}
      const candidates = snapshot.nodes
        .filter((n) => n.index !== selected && n.process === 'running' && n.role === 'FOLLOWER')
        .sort((a, b) => (a.lag ?? Infinity) - (b.lag ?? Infinity) || a.index - b.index)
      if (candidates.length === 0) return {kind: 'refuse', message: 'no running follower to take over'}
      const to = candidates[0].index
      return {kind: 'transfer', from: selected, to, command: cmd(`transfer ${to}`)}
    }
    case 'b':
      return snapshot.publisher.on
        ? {kind: 'publisher', on: false, command: 'background publisher stopped'}
        : {kind: 'publisher', on: true, command: `${publishLoop(snapshot)}   (until b; to the leader of the moment)`}
    default:
      return null
  }
}

function nodeOp(op: NodeOpName, node: number, cmd: (text: string) => string): Action {
  return {kind: 'node-op', op, node, command: cmd(`${op} ${node}`)}
}

/**
 * What the `b` key does, as a shell line: a JSON message POSTed to a node's /publish,
 * PUBLISH_RATE times a second (src/tui/publisher.ts; it sends to the leader, else any running
 * node, which forwards). No pad-cli command publishes at a steady rate like that: bench
 * publishes fixed-size RAW bodies to its own topic and measures.
 */
function publishLoop(snapshot: TopSnapshot): string {
  const target = (snapshot.leader !== null ? snapshot.nodes[snapshot.leader] : undefined) ?? snapshot.nodes.find((n) => n.process === 'running')
  const url = target ? `http://${target.host}:${target.http_port}/publish` : 'http://<node>/publish'
  const body = JSON.stringify({topic: PUBLISH_TOPIC, body: {n: 1}})
  return `while sleep ${1 / PUBLISH_RATE}; do curl -s -X POST ${url} -H 'content-type: application/json' -d '${body}' >/dev/null; done`
}
