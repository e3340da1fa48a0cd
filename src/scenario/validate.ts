/**
 * A scenario file's text -> a Scenario, or a ScenarioFileError naming the line of the first
 * problem: bad JSON or YAML, a missing or unknown field, a field of the wrong type, an unknown step kind,
 * fault or condition, a node reference that does not exist (an index past the cluster, or
 * `old-leader` / `added` before any step that sets them).
 */
import {parseDuration} from '../util/duration.js'
import {describeNode, parseJsonTree, ScenarioFileError, type JsonNode} from './json-tree.js'
import {
  CONDITIONS,
  DEFAULT_EXPECT_MS,
  DEFAULT_PUBLISH_TIMEOUT_MS,
  DEFAULT_REFUSE_MS,
  DEFAULT_TOPIC,
  DEFAULT_WAIT_MS,
  FAULT_KINDS,
  MAX_NODES,
  MAX_PUBLISH,
  MAX_STEPS,
  MAX_WAIT_MS,
  NODE_CONDITIONS,
  NODE_FAULTS,
  NODE_NAMES,
  ROLE_NAMES,
  STEP_KINDS,
  type ConditionKind,
  type FaultKind,
  type NodeRefValue,
  type Scenario,
  type Step,
  type StepKind,
} from './schema.js'
import {parseYamlTree} from './yaml-tree.js'

type ObjectNode = Extract<JsonNode, {kind: 'object'}>

const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/
const MAX_TEXT = 1000

/** The fields each step kind takes besides its kind key and `text`. */
const STEP_FIELDS: Record<StepKind, readonly string[]> = {
  say: [],
  remember: [],
  fault: ['node', 'groups', 'nodes', 'to', 'ms', 'jitter', 'percent'],
  publish: ['topic', 'node', 'outcome', 'timeout'],
  'wait-for': ['node', 'not', 'role', 'within'],
  expect: ['node', 'not', 'role', 'within'],
  sleep: [],
}

/** How a scenario file is written; the two give the same tree, so one validator serves both. */
export type ScenarioFormat = 'json' | 'yaml'

/**
 * `nodes`: the cluster the scenario will run on, when known (--nodes, or --cluster's size);
 * node indexes are checked against it, else against the file's own `nodes`.
 */
export function parseScenario(text: string, options: {nodes?: number; format?: ScenarioFormat} = {}): Scenario {
  const root = options.format === 'yaml' ? parseYamlTree(text) : parseJsonTree(text)
  const top = asObject(root, 'a scenario is one JSON object with name, summary and steps')
  allowOnly(top, ['name', 'summary', 'description', 'nodes', 'snapshot_entries', 'trailing_entries', 'steps'], 'the scenario')
  const name = requiredString(top, 'name', 'the scenario')
  if (!NAME_PATTERN.test(name)) fail(field(top, 'name')!.value.line, `name ${JSON.stringify(name)} must be lower-case letters, digits and dashes (e.g. leader-failure)`)
  const summary = requiredString(top, 'summary', 'the scenario')
  optionalString(top, 'description')
  const fileNodes = optionalInteger(top, 'nodes', 1, MAX_NODES) ?? 3
  const scenario: Scenario = {name, summary, nodes: options.nodes ?? fileNodes, steps: []}
  const snapshotEntries = optionalInteger(top, 'snapshot_entries', 1, 1_000_000)
  const trailingEntries = optionalInteger(top, 'trailing_entries', 0, 1_000_000)
  if (snapshotEntries !== undefined) scenario.snapshotEntries = snapshotEntries
  if (trailingEntries !== undefined) scenario.trailingEntries = trailingEntries
  const stepsEntry = field(top, 'steps')
  if (!stepsEntry) fail(top.line, 'the scenario has no "steps" (a list of steps)')
  if (stepsEntry.value.kind !== 'array') fail(stepsEntry.value.line, `"steps" must be a list of steps, not ${describeNode(stepsEntry.value)}`)
  const items = stepsEntry.value.items
  if (items.length === 0) fail(stepsEntry.value.line, '"steps" is empty')
  if (items.length > MAX_STEPS) fail(items[MAX_STEPS].line, `more than ${MAX_STEPS} steps`)
  const known = new KnownRefs(scenario.nodes)
  items.forEach((item, i) => scenario.steps.push(parseStep(item, i + 1, known)))
  return scenario
}

/** Which references are defined so far, in step order, and how many nodes there are. */
class KnownRefs {
  oldLeader = false
  added = 0
  constructor(readonly nodes: number) {}
}

function parseStep(node: JsonNode, number: number, known: KnownRefs): Step {
  const where = `step ${number}`
  const step = asObject(node, `${where} must be an object such as {"say": "..."}, not ${describeNode(node)}`)
  const kinds = [...step.entries.keys()].filter((k): k is StepKind => (STEP_KINDS as readonly string[]).includes(k))
  if (kinds.length === 0) {
    const first = [...step.entries.keys()][0]
    fail(step.line, first === undefined ? `${where} is empty: give one of ${STEP_KINDS.join(', ')}` : `${where}: unknown step kind "${clip(first)}" (use ${STEP_KINDS.join(', ')})`)
  }
  if (kinds.length > 1) fail(step.line, `${where} has two kinds (${kinds.join(' and ')}): one step does one thing`)
  const kind = kinds[0]
  allowOnly(step, [kind, 'text', ...STEP_FIELDS[kind]], `${where} (${kind})`)
  const text = optionalString(step, 'text')
  const base = {line: step.line, ...(text === undefined ? {} : {text})}
  const kindValue = field(step, kind)!.value
  const refs = (name: string): NodeRefValue | undefined => optionalRef(step, name, where, known)
  switch (kind) {
    case 'say':
      return {...base, kind, say: stringOf(kindValue, `${where}: "say"`)}
    case 'remember': {
      const what = stringOf(kindValue, `${where}: "remember"`)
      if (what !== 'leader' && what !== 'follower') fail(kindValue.line, `${where}: remember "leader" or "follower", not ${JSON.stringify(clip(what))}`)
      if (what === 'leader') known.oldLeader = true
      return {...base, kind, what}
    }
    case 'sleep':
      return {...base, kind, ms: durationOf(kindValue, `${where}: "sleep"`)}
    case 'fault':
      return parseFault(step, base, stringOf(kindValue, `${where}: "fault"`), kindValue.line, where, known)
    case 'publish': {
      const count = integerOf(kindValue, `${where}: "publish" (how many messages)`, 1, MAX_PUBLISH)
      const topic = optionalString(step, 'topic') ?? DEFAULT_TOPIC
      if (!/^[A-Za-z0-9._-]{1,100}$/.test(topic)) fail(field(step, 'topic')!.value.line, `${where}: topic ${JSON.stringify(clip(topic))} must be letters, digits, dots, dashes or underscores`)
      const outcome = optionalString(step, 'outcome') ?? 'acked'
      if (outcome !== 'acked' && outcome !== 'unacked') fail(field(step, 'outcome')!.value.line, `${where}: outcome is "acked" or "unacked", not ${JSON.stringify(clip(outcome))}`)
      const timeout = field(step, 'timeout')
      return {...base, kind, count, topic, node: refs('node') ?? 'leader', outcome, timeoutMs: timeout ? durationOf(timeout.value, `${where}: "timeout"`) : DEFAULT_PUBLISH_TIMEOUT_MS}
    }
    case 'wait-for':
    case 'expect': {
      const condition = stringOf(kindValue, `${where}: "${kind}"`) as ConditionKind
      if (!(CONDITIONS as readonly string[]).includes(condition)) fail(kindValue.line, `${where}: unknown condition "${clip(condition)}" (use ${CONDITIONS.join(', ')})`)
      const out: Step = {...base, kind, condition, withinMs: defaultWithin(kind, condition)}
      const within = field(step, 'within')
      if (within) out.withinMs = durationOf(within.value, `${where}: "within"`)
      const target = refs('node')
      if (NODE_CONDITIONS.includes(condition)) {
        if (target === undefined) fail(step.line, `${where}: "${condition}" needs "node" (an index, or ${NODE_NAMES.join(', ')})`)
        out.node = target
      } else if (target !== undefined) fail(field(step, 'node')!.keyLine, `${where}: "${condition}" takes no "node"`)
      const not = refs('not')
      if (not !== undefined) {
        if (condition !== 'leader') fail(field(step, 'not')!.keyLine, `${where}: "not" goes only with the condition "leader"`)
        out.not = not
      }
      const role = optionalString(step, 'role')
      if (condition === 'role') {
        if (role === undefined) fail(step.line, `${where}: "role" needs "role" (${Object.keys(ROLE_NAMES).join(', ')})`)
        if (!(role in ROLE_NAMES)) fail(field(step, 'role')!.value.line, `${where}: unknown role ${JSON.stringify(clip(role))} (use ${Object.keys(ROLE_NAMES).join(', ')})`)
        out.role = ROLE_NAMES[role]
      } else if (role !== undefined) fail(field(step, 'role')!.keyLine, `${where}: "role" goes only with the condition "role"`)
      return out
    }
  }
}

function defaultWithin(kind: 'wait-for' | 'expect', condition: ConditionKind): number {
  if (condition === 'refuses-writes') return DEFAULT_REFUSE_MS
  return kind === 'wait-for' ? DEFAULT_WAIT_MS : DEFAULT_EXPECT_MS
}

function parseFault(step: ObjectNode, base: {line: number; text?: string}, fault: string, line: number, where: string, known: KnownRefs): Step {
  if (!(FAULT_KINDS as readonly string[]).includes(fault)) fail(line, `${where}: unknown fault "${clip(fault)}" (use ${FAULT_KINDS.join(', ')})`)
  const kind = fault as FaultKind
  const out: Extract<Step, {kind: 'fault'}> = {...base, kind: 'fault', fault: kind}
  const node = optionalRef(step, 'node', where, known)
  if (NODE_FAULTS.includes(kind)) {
    if (node === undefined) fail(step.line, `${where}: the fault "${kind}" needs "node" (an index, or ${NODE_NAMES.join(', ')})`)
    out.node = node
  } else if (node !== undefined) fail(field(step, 'node')!.keyLine, `${where}: the fault "${kind}" takes no "node"`)
  const only = (name: string, faults: FaultKind[]): JsonNode | undefined => {
    const entry = field(step, name)
    if (entry && !faults.includes(kind)) fail(entry.keyLine, `${where}: "${name}" goes only with the fault ${faults.join(' or ')}`)
    return entry?.value
  }
  const groups = only('groups', ['partition'])
  if (kind === 'partition') {
    if (!groups) fail(step.line, `${where}: "partition" needs "groups", e.g. [[0], [1, 2]]`)
    if (groups.kind !== 'array' || groups.items.length === 0) fail(groups.line, `${where}: "groups" is a list of groups, each a list of nodes, e.g. [[0], [1, 2]]`)
    out.groups = groups.items.map((g) => refList(g, `${where}: each group`, known))
  }
  const nodes = only('nodes', ['power-cut'])
  if (kind === 'power-cut') {
    if (!nodes) fail(step.line, `${where}: "power-cut" needs "nodes", e.g. ["leader"]`)
    out.nodes = refList(nodes, `${where}: "nodes"`, known)
  }
  const to = only('to', ['transfer'])
  if (to) out.to = refOf(to, `${where}: "to"`, known)
  const ms = only('ms', ['delay'])
  if (kind === 'delay') {
    if (!ms) fail(step.line, `${where}: "delay" needs "ms" (e.g. 200)`)
    out.ms = integerOf(ms, `${where}: "ms"`, 0, 60_000)
  }
  const jitter = only('jitter', ['delay'])
  if (jitter) out.jitterMs = integerOf(jitter, `${where}: "jitter"`, 0, 60_000)
  const percent = only('percent', ['loss'])
  if (kind === 'loss') {
    if (!percent) fail(step.line, `${where}: "loss" needs "percent" (0 to 100)`)
    out.percent = integerOf(percent, `${where}: "percent"`, 0, 100)
  }
  // A fault on the leader (or a transfer) remembers who led as old-leader; an add names its node `added`.
  if (namesLeader(out)) known.oldLeader = true
  if (kind === 'add') known.added++
  return out
}

/** Whether a fault acts on the leader: it then remembers that node as old-leader (refs.ts). */
export function namesLeader(step: Extract<Step, {kind: 'fault'}>): boolean {
  const refs = [step.node, step.to, ...(step.nodes ?? []), ...(step.groups ?? []).flat()]
  return step.fault === 'transfer' || refs.includes('leader')
}

function refList(node: JsonNode, what: string, known: KnownRefs): NodeRefValue[] {
  if (node.kind !== 'array' || node.items.length === 0) fail(node.line, `${what} must be a non-empty list of nodes, not ${describeNode(node)}`)
  return node.items.map((item) => refOf(item, `${what}: a node`, known))
}

function optionalRef(step: ObjectNode, name: string, where: string, known: KnownRefs): NodeRefValue | undefined {
  const entry = field(step, name)
  return entry ? refOf(entry.value, `${where}: "${name}"`, known) : undefined
}

/** A node reference: an index of the cluster, or a name that is defined by this point. */
function refOf(node: JsonNode, what: string, known: KnownRefs): NodeRefValue {
  if (node.kind === 'number') {
    const limit = known.nodes + known.added
    if (!Number.isInteger(node.value) || node.value < 0 || node.value >= limit) {
      fail(node.line, `${what}: node ${node.value} does not exist (the cluster has nodes 0 to ${limit - 1})`)
    }
    return node.value
  }
  if (node.kind !== 'string') fail(node.line, `${what} must be a node index or one of ${NODE_NAMES.join(', ')}, not ${describeNode(node)}`)
  const name = node.value
  if (!(NODE_NAMES as readonly string[]).includes(name)) fail(node.line, `${what}: unknown node "${clip(name)}" (use an index, or ${NODE_NAMES.join(', ')})`)
  if (name === 'old-leader' && !known.oldLeader) fail(node.line, `${what}: "old-leader" is not known yet: it is the node that led at the last "remember": "leader", or at a fault on "leader" or a transfer, before this step`)
  if (name === 'added' && known.added === 0) fail(node.line, `${what}: "added" is not known yet: it is the node of an earlier "fault": "add"`)
  return name as NodeRefValue
}

// ---------------------------------------------------------------------------------------
// Reading fields

function fail(line: number, reason: string): never {
  throw new ScenarioFileError(line, reason)
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}

function asObject(node: JsonNode, message: string): ObjectNode {
  if (node.kind !== 'object') fail(node.line, message)
  return node
}

function field(object: ObjectNode, name: string): {keyLine: number; value: JsonNode} | undefined {
  return object.entries.get(name)
}

function allowOnly(object: ObjectNode, names: readonly string[], where: string): void {
  for (const [key, entry] of object.entries) {
    if (!names.includes(key)) fail(entry.keyLine, `${where}: unknown field "${clip(key)}" (it takes ${names.join(', ')})`)
  }
}

function stringOf(node: JsonNode, what: string): string {
  if (node.kind !== 'string') fail(node.line, `${what} must be text in double quotes, not ${describeNode(node)}`)
  if (node.value.length > MAX_TEXT) fail(node.line, `${what} is longer than ${MAX_TEXT} characters`)
  return node.value
}

function requiredString(object: ObjectNode, name: string, where: string): string {
  const entry = field(object, name)
  if (!entry) fail(object.line, `${where} has no "${name}"`)
  const text = stringOf(entry.value, `"${name}"`)
  if (text.trim() === '') fail(entry.value.line, `"${name}" is empty`)
  return text
}

function optionalString(object: ObjectNode, name: string): string | undefined {
  const entry = field(object, name)
  return entry ? stringOf(entry.value, `"${name}"`) : undefined
}

function integerOf(node: JsonNode, what: string, min: number, max: number): number {
  if (node.kind !== 'number' || !Number.isInteger(node.value) || node.value < min || node.value > max) {
    fail(node.line, `${what} must be a whole number from ${min} to ${max}, not ${describeNode(node)}`)
  }
  return node.value
}

function optionalInteger(object: ObjectNode, name: string, min: number, max: number): number | undefined {
  const entry = field(object, name)
  return entry ? integerOf(entry.value, `"${name}"`, min, max) : undefined
}

/** A duration: text such as "2s" or "500ms", or a number of milliseconds. */
function durationOf(node: JsonNode, what: string): number {
  if (node.kind === 'number') {
    if (!Number.isInteger(node.value) || node.value < 0 || node.value > MAX_WAIT_MS) fail(node.line, `${what} must be a duration such as "2s" or a whole number of ms up to ${MAX_WAIT_MS}`)
    return node.value
  }
  if (node.kind !== 'string') fail(node.line, `${what} must be a duration such as "2s" or "500ms", not ${describeNode(node)}`)
  try {
    return parseDuration(node.value, what, {maxMs: MAX_WAIT_MS, examples: '"500ms", "2s", "1m"'})
  } catch (error) {
    return fail(node.line, (error as Error).message)
  }
}
