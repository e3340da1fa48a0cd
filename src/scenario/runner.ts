/**
 * Runs a scenario: brings up a temporary cluster (or opens the one named), then each step in
 * order: announce it (here and in the cluster's timeline), do it, report ✓ or ✗. The first
 * failing step ends the run. A temporary cluster is always torn down; its nodes' data is
 * removed when the run passes (kept with --keep, or when it fails, for a look).
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import type {NarrationKind} from '../api/control.js'
import {waitForLeader} from '../client/raft-state.js'
import type {CliEntry} from '../cluster/cli-entry.js'
import {openCluster, startTemporaryCluster, type ClusterLayout, type SupervisedCluster} from '../cluster/supervised-cluster.js'
import {poll, sleep} from '../util/time.js'
import {probe, type Probe} from './conditions.js'
import {announce, seconds, type Resolved} from './narrate.js'
import {PublishLog} from './publishes.js'
import {nothingRemembered, rememberLeader, resolveRef, RefError, type ClusterView, type Remembered} from './refs.js'
import type {NodeRefValue, Scenario, Step} from './schema.js'
import {namesLeader} from './validate.js'

export interface ScenarioRunOptions {
  scenario: Scenario
  /** Where the temporary cluster's nodes listen, and their Raft timing. */
  layout: ClusterLayout
  /** Bounds of waits, publishes and sleeps are multiplied by this (10 with --slow). */
  scale: number
  /** A pause after each step, for a person to look at top (--slow). */
  paceMs: number
  /** Run on this cluster (pad-cli up) instead of a temporary one. */
  cluster?: string
  /** The temporary cluster's PAD_HOME (default: a new temp dir). */
  dir?: string
  keep: boolean
  cli?: CliEntry
  /** What happens, as it happens (the command prints it). */
  report: (event: RunEvent) => void
  signal?: AbortSignal
  onCluster?: (cluster: SupervisedCluster | null) => void
}

export type RunEvent =
  | {type: 'cluster'; nodes: number; home: string | null; cluster: string; watch: string; temporary: boolean}
  | {type: 'announce'; step: number; total: number; kind: Step['kind']; title: string; hint: string}
  | {type: 'result'; step: number; total: number; kind: Step['kind']; title: string; ok: boolean; detail: string; ms: number}
  | {type: 'note'; text: string}

export interface ScenarioSummary {
  scenario: string
  passed: boolean
  steps: number
  /** Steps run to the end (the failing one included). */
  ran: number
  failed_step: {number: number; line: number; title: string; detail: string} | null
  /** The temporary cluster's folder, when it was kept. */
  kept_dir: string | null
  ms: number
}

/** A partition or delay the scenario makes ends by itself after this, in case the runner dies. */
const FAULT_BOUND_MS = 30 * 60_000

export async function runScenario(options: ScenarioRunOptions): Promise<ScenarioSummary> {
  const {scenario, report} = options
  const t0 = performance.now()
  let madeHome: string | null = null
  let cluster: SupervisedCluster
  if (options.cluster !== undefined) {
    cluster = await openCluster(options.cluster, usesPowerCut(scenario))
    const home = process.env.PAD_HOME
    report({type: 'cluster', nodes: cluster.nodes.length, home: home ?? null, cluster: options.cluster, temporary: false, watch: watchCommand(home ?? null, options.cluster)})
    await cluster.restoreAll()
  } else {
    const home = options.dir ?? (madeHome = fs.mkdtempSync(path.join(os.tmpdir(), `pad-scenario-${scenario.name}-`)))
    report({type: 'cluster', nodes: scenario.nodes, home, cluster: 'scenario', temporary: true, watch: watchCommand(home, 'scenario')})
    const start = startTemporaryCluster({
      home,
      name: 'scenario',
      nodes: scenario.nodes,
      ...options.layout,
      cli: options.cli,
      waitMs: 30_000 * Math.max(1, options.scale / 2),
      snapshotEntries: scenario.snapshotEntries,
      trailingEntries: scenario.trailingEntries,
      lazyFs: usesPowerCut(scenario),
    })
    try {
      cluster = await start
    } catch (error) {
      // It stopped whatever it had started; the folder we made for it has nothing worth keeping.
      if (madeHome !== null) fs.rmSync(madeHome, {recursive: true, force: true})
      throw error
    }
  }
  options.onCluster?.(cluster)
  let summary: ScenarioSummary | null = null
  try {
    if ((await waitForLeader(cluster.nodes, 15_000 * options.scale)) === null) throw new Error('the cluster has no leader to start from')
    summary = await new Run(cluster, options).steps()
  } finally {
    const temporary = options.cluster === undefined
    if (temporary) await cluster.close()
    else await cluster.restoreAll().catch(() => {})
    options.onCluster?.(null)
    const keep = temporary && (options.keep || summary?.passed !== true)
    if (temporary && !keep) {
      cluster.removeNodeData()
      if (madeHome !== null) fs.rmSync(madeHome, {recursive: true, force: true})
    }
    if (summary) {
      summary.kept_dir = keep ? cluster.dir : null
      summary.ms = Math.round(performance.now() - t0)
    }
  }
  return summary
}

export function watchCommand(home: string | null, cluster: string): string {
  return `${home === null ? '' : `PAD_HOME=${home} `}pad-cli top${cluster === 'default' ? '' : ` --cluster ${cluster}`}`
}

function usesPowerCut(scenario: Scenario): boolean {
  return scenario.steps.some((s) => s.kind === 'fault' && s.fault === 'power-cut')
}

/** One run's state: the remembered nodes, the publishes, the narration's link to the timeline. */
class Run {
  private readonly remembered: Remembered = nothingRemembered()
  private readonly log: PublishLog
  private narrationBroken = false

  constructor(
    private readonly cluster: SupervisedCluster,
    private readonly options: ScenarioRunOptions,
  ) {
    this.log = new PublishLog(options.scenario.name, crypto.randomBytes(4).toString('hex'))
  }

  async steps(): Promise<ScenarioSummary> {
    const {scenario} = this.options
    const total = scenario.steps.length
    const summary: ScenarioSummary = {scenario: scenario.name, passed: true, steps: total, ran: 0, failed_step: null, kept_dir: null, ms: 0}
    for (const [i, step] of scenario.steps.entries()) {
      if (this.options.signal?.aborted) {
        summary.passed = false
        summary.failed_step = {number: i + 1, line: step.line, title: 'interrupted', detail: 'the run was interrupted (Ctrl-C) before this step'}
        break
      }
      const number = i + 1
      const started = performance.now()
      let title = `step ${number}`
      let result: Probe
      try {
        const view = await this.view()
        const resolved = this.resolveAll(step, view)
        const words = announce(step, resolved, this.options.scale)
        title = words.title
        this.options.report({type: 'announce', step: number, total, kind: step.kind, title, hint: words.hint})
        await this.narrate(number, step.kind === 'say' ? 'say' : step.kind === 'expect' || step.kind === 'wait-for' ? 'check' : 'say', [title, words.hint].filter((t) => t !== '').join(' '))
        result = await this.execute(step, view)
      } catch (error) {
        result = {ok: false, detail: error instanceof RefError ? `no node to act on: ${error.message}` : (error as Error).message}
      }
      const ms = Math.round(performance.now() - started)
      summary.ran = number
      this.options.report({type: 'result', step: number, total, kind: step.kind, title, ok: result.ok, detail: result.detail, ms})
      if (step.kind !== 'say' || !result.ok) await this.narrate(number, result.ok ? 'pass' : 'fail', result.detail)
      if (!result.ok) {
        summary.passed = false
        summary.failed_step = {number, line: step.line, title, detail: result.detail}
        break
      }
      if (this.options.paceMs > 0 && number < total) await sleep(this.options.paceMs)
    }
    return summary
  }

  /** The supervisor's view: who leads, who runs. */
  private async view(): Promise<ClusterView> {
    const status = await this.cluster.status()
    return {leader: status.leader, term: status.term, nodes: status.nodes}
  }

  /** Resolves the step's references now (a fault on the leader remembers it first), as words for the announcement. */
  private resolveAll(step: Step, view: ClusterView): Resolved {
    if (step.kind === 'remember' && step.what === 'leader') rememberLeader(view, this.remembered)
    if (step.kind === 'remember' && step.what === 'follower') this.remembered.follower = null
    if (step.kind === 'fault' && namesLeader(step)) rememberLeader(view, this.remembered)
    const name = (ref: NodeRefValue): string => this.nameOf(ref, view)
    const out: Resolved = {}
    if (step.kind === 'remember') out.node = name(step.what)
    if (step.kind === 'fault') {
      if (step.node !== undefined) out.node = name(step.node)
      if (step.fault === 'transfer') out.to = name(step.to ?? 'follower')
      if (step.groups) out.groups = this.groupsText(step.groups.map((g) => g.map((r) => resolveRef(r, view, this.remembered))))
      if (step.nodes) out.nodes = step.nodes.map(name).join(', ')
    }
    if (step.kind === 'publish') out.node = name(step.node)
    if (step.kind === 'wait-for' || step.kind === 'expect') {
      if (step.node !== undefined) out.node = name(step.node)
      if (step.not !== undefined) out.not = name(step.not)
      if (step.role !== undefined) out.role = step.role.toLowerCase().replace('_', '-')
    }
    return out
  }

  /** "node 1 (the leader)", "node 2", "node 0 (the old leader)". */
  private nameOf(ref: NodeRefValue, view: ClusterView): string {
    const index = resolveRef(ref, view, this.remembered)
    if (typeof ref === 'number') return `node ${index}`
    const role = {leader: 'the leader', 'old-leader': 'the old leader', follower: 'a follower', added: 'the added node'}[ref]
    return `node ${index} (${role})`
  }

  /** `{0} | {1,2}`: the groups named and, as in pad-cli partition, the rest as one more group. */
  private groupsText(groups: number[][]): string {
    const named = new Set(groups.flat())
    const rest = this.cluster.nodes.map((n) => n.index).filter((i) => !named.has(i))
    return [...groups, ...(rest.length > 0 ? [rest] : [])].map((g) => `{${g.join(',')}}`).join(' | ')
  }

  private async execute(step: Step, view: ClusterView): Promise<Probe> {
    const scale = this.options.scale
    const ref = (r: NodeRefValue): number => resolveRef(r, view, this.remembered)
    switch (step.kind) {
      case 'say':
        return {ok: true, detail: ''}
      case 'remember':
        return {ok: true, detail: `${step.what === 'leader' ? 'old-leader' : 'follower'} is node ${ref(step.what)}`}
      case 'sleep':
        await sleep(step.ms * scale)
        return {ok: true, detail: `waited ${seconds(step.ms * scale)}`}
      case 'fault':
        return this.fault(step, ref)
      case 'publish': {
        const member = this.member(ref(step.node))
        const timeoutMs = step.timeoutMs * scale
        const {acked, firstError} = await this.log.publish(member, step.topic, step.count, step.line, timeoutMs)
        if (step.outcome === 'acked') {
          return acked === step.count
            ? {ok: true, detail: `${acked} acknowledged by node ${member.index}`}
            : {ok: false, detail: `${acked} of ${step.count} acknowledged by node ${member.index}; the first refusal: ${firstError}`}
        }
        return acked === 0
          ? {ok: true, detail: `none acknowledged (${firstError})`}
          : {ok: false, detail: `node ${member.index} acknowledged ${acked} of ${step.count}: it could still commit`}
      }
      case 'wait-for':
      case 'expect': {
        const withinMs = step.withinMs * scale
        if (step.condition === 'refuses-writes') {
          const member = this.member(ref(step.node!))
          const {acked, firstError} = await this.log.publish(member, 'scenario.refused', 1, step.line, Math.max(1, withinMs))
          return acked === 0 ? {ok: true, detail: `node ${member.index} did not acknowledge: ${firstError}`} : {ok: false, detail: `node ${member.index} acknowledged a publish: it can still commit`}
        }
        const target = {
          condition: step.condition,
          node: step.node === undefined ? undefined : ref(step.node),
          not: step.not === undefined ? undefined : ref(step.not),
          role: step.role,
          oldTerm: this.remembered.oldTerm,
        }
        let last: Probe = {ok: false, detail: 'not checked'}
        const started = performance.now()
        const done = await poll(
          async () => {
            last = await probe(this.cluster, target, this.log).catch((error: Error) => ({ok: false, detail: error.message}))
            return last.ok ? last : undefined
          },
          {timeoutMs: withinMs, intervalMs: 100 * Math.min(scale, 5)},
        )
        if (done) return {ok: true, detail: `${done.detail} (after ${seconds(Math.round(performance.now() - started))})`}
        return {ok: false, detail: `not within ${seconds(withinMs)}: ${last.detail}`}
      }
    }
  }

  private async fault(step: Extract<Step, {kind: 'fault'}>, ref: (r: NodeRefValue) => number): Promise<Probe> {
    const c = this.cluster
    const node = step.node === undefined ? -1 : ref(step.node)
    switch (step.fault) {
      case 'kill':
        await c.kill(node)
        break
      case 'stop':
        await c.stop(node)
        break
      case 'start':
        await c.start(node)
        break
      case 'restart':
        await c.restart(node)
        break
      case 'pause':
        await c.pause(node)
        break
      case 'resume':
        await c.resume(node)
        break
      case 'isolate':
        await c.partition({groups: [[node]]}, FAULT_BOUND_MS)
        break
      case 'partition':
        await c.partition({groups: step.groups!.map((g) => g.map(ref))}, FAULT_BOUND_MS)
        break
      case 'heal':
        await c.heal()
        break
      case 'delay':
        await c.delay(node, step.ms!, step.jitterMs ?? 0, FAULT_BOUND_MS)
        break
      case 'loss':
        await c.loss(node, step.percent! / 100, FAULT_BOUND_MS)
        break
      case 'transfer': {
        const answer = await c.transfer(ref(step.to ?? 'follower'))
        return {ok: true, detail: `node ${answer.leader} leads (term ${answer.term})`}
      }
      case 'add': {
        const answer = await c.add()
        this.remembered.added = answer.node
        return {ok: true, detail: `node ${answer.node} joined and is a ${answer.membership}`}
      }
      case 'remove': {
        const answer = await c.remove(node)
        return {ok: true, detail: `node ${answer.node} left; voters now ${answer.voters.join(', ')}`}
      }
      case 'power-cut':
        await c.powerCut(step.nodes!.map(ref))
        break
    }
    return {ok: true, detail: 'done'}
  }

  private member(index: number): {index: number; host: string; tcp_port: number; http_port: number; raft_port: number} {
    const member = this.cluster.nodes.find((n) => n.index === index)
    if (!member) throw new RefError(`node ${index} is not a member of the cluster`)
    return member
  }

  /** Into the cluster's timeline too, best effort: a supervisor of an older version has no `say`. */
  private async narrate(step: number, kind: NarrationKind, text: string): Promise<void> {
    if (this.narrationBroken || text === '') return
    try {
      await this.cluster.say({op: 'say', scenario: this.options.scenario.name, step, kind, text})
    } catch (error) {
      this.narrationBroken = true
      this.options.report({type: 'note', text: `the narration does not reach the cluster's timeline: ${(error as Error).message}`})
    }
  }
}
