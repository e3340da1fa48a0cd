/**
 * `pad-cli top`: the blessed screen, the keys, the actions, and a clean exit. The terminal
 * is restored on q, Ctrl-C, SIGTERM and on any error; nothing is written to stderr while the
 * screen is up (blessed's own warnings go to the timeline instead).
 */
import blessed from 'blessed'
import {ACTION_TIMEOUT_MS, MEMBERSHIP_TIMEOUT_MS, type ClusterHandle} from '../cluster/cluster.js'
import {planAction, PUBLISH_RATE, PUBLISH_TOPIC, type Action} from './actions.js'
import {LiveFeed} from './feed.js'
import {bindKeys, type KeyCommand} from './keys.js'
import {LogTails} from './log-tails.js'
import {TopModel} from './model.js'
import {BackgroundPublisher} from './publisher.js'
import {TopView} from './view.js'

export interface TopOptions {
  /** Renders per second (at least 4). */
  fps?: number
  terminal?: string
}

/** Selection and keys, apart from the screen so they can be driven in tests. */
export class TopController {
  selected = 0
  private busy = false

  constructor(
    readonly model: TopModel,
    private readonly cluster: ClusterHandle | null,
    private readonly publisher: BackgroundPublisher,
  ) {}

  move(delta: number): void {
    const count = this.model.snapshot().nodes.length
    if (count === 0) return
    this.selected = Math.min(count - 1, Math.max(0, this.selected + delta))
  }

  /** Runs the action of `key`, if it has one; prints its command (or why not) in the timeline. */
  async press(key: string): Promise<void> {
    const action = planAction(key, this.selected, this.model.snapshot())
    if (!action) return
    if (action.kind === 'refuse') {
      this.model.note('info', key, action.message)
      return
    }
    if (action.kind === 'publisher') {
      if (action.on) this.publisher.start()
      else this.publisher.stop()
      this.model.note('action', key, action.command)
      return
    }
    if (this.busy) {
      this.model.note('info', key, 'the previous action is still running')
      return
    }
    this.model.note('action', key, action.command)
    this.busy = true
    try {
      await this.run(action)
    } catch (error) {
      this.model.note('error', key, (error as Error).message)
    } finally {
      this.busy = false
    }
  }

  private async run(action: Exclude<Action, {kind: 'refuse' | 'publisher'}>): Promise<void> {
    const cluster = this.cluster
    if (!cluster) throw new Error('no cluster')
    switch (action.kind) {
      case 'node-op':
        await cluster.request({op: action.op, node: action.node}, ACTION_TIMEOUT_MS)
        break
      case 'partition':
        await cluster.request({op: 'partition', groups: [[action.node]]})
        break
      case 'heal':
        await cluster.request({op: 'heal'})
        break
      case 'transfer':
        await cluster.request({op: 'transfer', to: action.to}, ACTION_TIMEOUT_MS)
        break
      case 'add':
        // Returns once the learner serves; its promotion shows in the timeline.
        await cluster.request({op: 'add', wait: false}, MEMBERSHIP_TIMEOUT_MS)
        break
      case 'remove':
        await cluster.request({op: 'remove', node: action.node}, MEMBERSHIP_TIMEOUT_MS)
        break
      case 'power-cut':
        await cluster.request({op: 'power-cut', nodes: [action.node]}, ACTION_TIMEOUT_MS)
        break
    }
  }
}

export async function runTop(cluster: ClusterHandle, options: TopOptions = {}): Promise<void> {
  const model = new TopModel(cluster.name)
  const feed = new LiveFeed(cluster, model)
  await feed.start()
  const publisher = new BackgroundPublisher(model, PUBLISH_RATE, PUBLISH_TOPIC)
  const logTails = new LogTails(model)
  const controller = new TopController(model, cluster, publisher)
  const selectLeader = model.snapshot().leader
  if (selectLeader !== null) controller.selected = selectLeader

  // blessed reports terminfo trouble with console.error: keep it off the screen.
  const saved = {error: console.error, warn: console.warn}
  console.error = (...args: unknown[]) => {
    const text = args.map(String).join(' ').trim()
    if (text) model.note('error', 'stderr', text)
  }
  console.warn = console.error

  let screen: blessed.Widgets.Screen | null = null
  let finish: (() => void) | null = null
  const done = new Promise<void>((resolve) => (finish = resolve))
  let closed = false
  const close = (): void => {
    if (closed) return
    closed = true
    clearInterval(renderTimer)
    publisher.stop()
    feed.stop()
    logTails.stop()
    try {
      screen?.destroy()
    } finally {
      console.error = saved.error
      console.warn = saved.warn
      process.off('SIGTERM', close)
      process.off('SIGHUP', close)
      process.off('uncaughtException', crash)
      process.off('unhandledRejection', crash)
      finish?.()
    }
  }
  const crash = (error: unknown): void => {
    close()
    process.stderr.write(`pad-cli top: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  }
  process.on('uncaughtException', crash)
  process.on('unhandledRejection', crash)
  process.once('SIGTERM', close)
  process.once('SIGHUP', close)

  let renderTimer: NodeJS.Timeout | undefined
  try {
    screen = blessed.screen({
      smartCSR: true,
      fullUnicode: false,
      forceUnicode: true,
      warnings: false,
      title: `pad-cli top: ${cluster.name}`,
      terminal: options.terminal,
      autoPadding: false,
      dockBorders: false,
    })
    // Draw box lines as UTF-8, not with the terminal's alternate charset (tmux and some
    // terminals show that as letters).
    ;(screen as unknown as {tput: {brokenACS: boolean}}).tput.brokenACS = true
    const view = new TopView(screen)
    const render = (): void => {
      if (closed) return
      model.tick()
      view.render(model.snapshot(), controller.selected, logTails.get)
      // Polls the log tails only while their rows are on screen.
      logTails.want(view.logEntriesWanted)
    }
    const handle = (command: KeyCommand, key: string): void => {
      switch (command) {
        case 'quit':
          close()
          return
        case 'up':
        case 'down':
          controller.move(command === 'up' ? -1 : 1)
          break
        case 'help':
          view.setHelp(!view.helpShown)
          break
        case 'close-help':
          view.setHelp(false)
          break
        case 'action':
          void controller.press(key).then(render)
          break
      }
      render()
    }
    bindKeys(screen, handle)
    screen.on('resize', render)
    renderTimer = setInterval(render, Math.round(1000 / Math.max(4, options.fps ?? 5)))
    render()
  } catch (error) {
    crash(error)
  }
  await done
}
