/**
 * The plain words said before each step: what will happen (with the nodes it names, resolved)
 * and, unless the file says its own `text`, what to watch in `pad-cli top` meanwhile.
 */
import type {ConditionKind, FaultKind, Step} from './schema.js'


const FAULT_WORDS: Record<FaultKind, string> = {
  kill: 'SIGKILL to',
  stop: 'SIGTERM (a clean stop) to',
  start: 'start',
  restart: 'restart',
  pause: 'SIGSTOP (freeze) to',
  resume: 'SIGCONT (thaw) to',
  isolate: 'cut every link of',
  partition: 'partition the network:',
  heal: 'heal the network (every link back)',
  delay: 'delay the links of',
  loss: 'drop messages on the links of',
  transfer: 'hand the leadership over',
  add: 'add a new node (it joins as a learner, catches up, becomes a voter)',
  remove: 'remove from the configuration',
  'power-cut': 'cut the power of',
}

const FAULT_HINTS: Record<FaultKind, string> = {
  kill: 'In top the node goes down; its followers hear no heartbeat, and after an election timeout one stands as candidate and wins.',
  stop: 'In top the node goes down; if it led, the others elect a new leader after an election timeout.',
  start: 'In top the node comes back as a follower; its commit index climbs to the leader’s.',
  restart: 'In top the node goes down and comes back as a follower.',
  pause: 'The process is frozen: its sockets stay open but it says nothing, so the others treat it as gone.',
  resume: 'The node wakes up with an old view of the cluster and learns the current term from the first message it gets.',
  isolate: 'The node can talk to no peer: alone it is a minority, so it can commit nothing; the others go on.',
  partition: 'Each side only hears its own nodes: the side with a majority keeps (or elects) a leader and commits; a minority cannot.',
  heal: 'The nodes hear each other again: a node with a stale term steps down, and the leader repairs the logs that differ.',
  delay: 'The node’s messages arrive late; the majority without it still commits at full speed.',
  loss: 'Some of the node’s messages vanish; Raft sends again what was lost.',
  transfer: 'The leader brings the target up to date and tells it to stand at once: watch the leader move without a gap.',
  add: 'A new row appears in top, first as a learner (it receives the log but does not vote).',
  remove: 'The node leaves the configuration; the majority is then counted over the remaining voters.',
  'power-cut': 'Whatever the node had not fsynced is lost, as on a real power cut; what it acknowledged was fsynced first.',
}

const CONDITION_WORDS: Record<ConditionKind, string> = {
  leader: 'a node is leader',
  role: 'a node has the role named',
  'stepped-down': 'the node no longer leads: another node leads a term at least as new',
  converged: 'every running node has the same log, committed and applied to the same index, under one leader',
  'caught-up': 'the node has applied everything the leader has committed',
  'refuses-writes': 'a publish to the node is not acknowledged',
  'no-acked-lost': 'every acknowledged message is stored at its offset on every running node',
  'unacked-absent': 'no publish that went unacknowledged is stored on any node',
  uncommitted: 'the node holds log entries past its commit index (written but never committed)',
  'term-advanced': 'the term is higher than when the old leader was remembered',
  'snapshot-installed': 'the node installed a snapshot streamed by the leader',
  voter: 'the node is a voter in the leader’s configuration',
}

export interface Resolved {
  node?: string
  not?: string
  to?: string
  groups?: string
  nodes?: string
  role?: string
}

/** The announcement of a step: one line of what happens, one of what to watch (or the file's text). */
export function announce(step: Step, r: Resolved, scale: number): {title: string; hint: string} {
  const hint = (fallback: string): string => step.text ?? fallback
  switch (step.kind) {
    case 'say':
      return {title: step.say, hint: step.text ?? ''}
    case 'remember':
      return {title: `Remember ${r.node} as ${step.what === 'leader' ? 'old-leader' : 'follower'}.`, hint: hint('')}
    case 'sleep':
      return {title: `Wait ${seconds(step.ms * scale)}.`, hint: hint('Watch top meanwhile.')}
    case 'fault': {
      const parts = [FAULT_WORDS[step.fault]]
      if (r.node) parts.push(r.node)
      if (step.fault === 'partition') parts.push(r.groups ?? '')
      if (step.fault === 'power-cut') parts.push(r.nodes ?? '')
      if (step.fault === 'transfer') parts.push(`to ${r.to}`)
      if (step.fault === 'delay') parts.push(`by ${step.ms} ms${step.jitterMs ? ` ± ${step.jitterMs} ms` : ''}`)
      if (step.fault === 'loss') parts.push(`(${step.percent}%)`)
      return {title: `${capital(parts.join(' '))}.`, hint: hint(FAULT_HINTS[step.fault])}
    }
    case 'publish': {
      const what = step.outcome === 'acked' ? 'each must be acknowledged' : 'none may be acknowledged'
      return {
        title: `Publish ${step.count} message${step.count === 1 ? '' : 's'} on "${step.topic}" to ${r.node}; ${what} within ${seconds(step.timeoutMs * scale)}.`,
        hint: hint(step.outcome === 'acked' ? 'In top the commit index of every node climbs: an entry is committed once a majority stored it.' : 'Entries a leader cannot replicate to a majority are never committed, so never acknowledged.'),
      }
    }
    case 'wait-for':
    case 'expect': {
      const verb = step.kind === 'wait-for' ? 'Wait until' : 'Check that'
      return {title: `${verb} ${conditionText(step.condition, r)} (within ${seconds(step.withinMs * scale)}).`, hint: hint('')}
    }
  }
}

function conditionText(condition: ConditionKind, r: Resolved): string {
  switch (condition) {
    case 'leader':
      return r.not ? `a node other than ${r.not} is leader` : 'a node is leader'
    case 'role':
      return `${r.node} is ${r.role}`
    case 'stepped-down':
      return `${r.node} no longer leads`
    case 'caught-up':
      return `${r.node} has applied everything the leader committed`
    case 'refuses-writes':
      return `a publish to ${r.node} is not acknowledged`
    case 'uncommitted':
      return `${r.node} holds entries past its commit index (never committed)`
    case 'snapshot-installed':
      return `${r.node} installed a snapshot from the leader`
    case 'voter':
      return `${r.node} is a voter`
    default:
      return CONDITION_WORDS[condition]
  }
}

export function seconds(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Math.round(ms / 100) / 10}s`
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

export {CONDITION_WORDS}
