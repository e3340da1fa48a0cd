import {expect} from 'chai'
import type blessed from 'blessed'
import type {RaftLogAnswer} from '../../src/api/node-http.js'
import {planAction} from '../../src/tui/actions.js'
import {CHART_POINTS, chartSeries} from '../../src/tui/chart.js'
import {ACTION_KEYS, bindKeys, helpLines, KEY_BINDINGS, type KeyCommand} from '../../src/tui/keys.js'
import {TopModel} from '../../src/tui/model.js'
import {LOG_CELLS_WIDTH, TopView} from '../../src/tui/view.js'
import {fakeScreen, node, screenText, status} from './helpers.js'

function model(): TopModel {
  const m = new TopModel('default')
  m.setStatus(status([node(0, {role: 'LEADER'}), node(1), node(2, {process: 'stopped', pid: null})]))
  return m
}

function resize(screen: blessed.Widgets.Screen, columns: number, rows: number): void {
  ;(screen.program as unknown as {cols: number; rows: number}).cols = columns
  ;(screen.program as unknown as {cols: number; rows: number}).rows = rows
  screen.alloc()
}

const TAIL: RaftLogAnswer = {node_index: 0, current_term: 3, snapshot_index: 0, snapshot_term: 0, last_index: 12, commit_index: 10, runs: [{from: 1, to: 4, term: 1}, {from: 5, to: 12, term: 3}]}

describe('top chart row', () => {
  it('keeps the p99 publish latency of each second, and charts the last 60 s of both series', () => {
    const m = model()
    const t0 = Date.UTC(2024, 0, 1)
    m.tick(t0)
    for (const ms of [3, 4, 5, 40]) m.publishAcked(ms)
    m.tick(t0 + 1000)
    m.tick(t0 + 3000)
    expect(m.snapshot(t0 + 3000).p99_history).to.deep.equal([40, null, null])
    for (let i = 4; i < 100; i++) {
      m.publishAcked(i)
      m.tick(t0 + i * 1000)
    }
    const series = chartSeries(m.snapshot(t0 + 100_000))
    expect(series.x).to.have.length(CHART_POINTS)
    expect(series.x[0]).to.equal('-59')
    expect(series.x.at(-1)).to.equal('0')
    // The second closed last had the publish of 99 ms.
    expect(series.p99.at(-1)).to.equal(99)
    expect(series.commits).to.have.length(CHART_POINTS)
    expect(series.maxY).to.equal(Math.ceil(99 * 1.2))
    expect(series.label).to.include('commits/s 0').and.include('p99 publish ms (b publishes)')
    // A fresh dashboard: two flat points, a y axis of at least 1.
    const empty = chartSeries(model().snapshot())
    expect(empty).to.deep.include({commits: [0, 0], p99: [0, 0], maxY: 2})
  })

  it('draws the line chart with its label where it fits, hides it below its minimum, and survives resizes', () => {
    const screen = fakeScreen(80, 24)
    try {
      const view = new TopView(screen)
      const m = model()
      view.render(m.snapshot(), 0)
      const chartTop = screenText(screen).findIndex((l) => l.includes('commits/s 0'))
      expect(chartTop).to.equal(5)
      expect(screenText(screen).join('\n')).to.include('events, newest first')
      for (const [w, h] of [[160, 48], [39, 24], [80, 14], [5, 3], [200, 60], [80, 24]]) {
        resize(screen, w, h)
        expect(() => view.render(m.snapshot(), 0)).not.to.throw()
        const text = screenText(screen).join('\n')
        if (w < 40 || h < 16) expect(text, `${w}x${h}`).not.to.include('commits/s 0')
        else expect(text, `${w}x${h}`).to.include('commits/s 0').and.include('last 2 s')
      }
      expect(screenText(screen)[5]).to.include('commits/s 0')
    } finally {
      screen.destroy()
    }
  })
})

describe('top log-cells rows', () => {
  it(`draws a row per node from ${LOG_CELLS_WIDTH} columns: cells for a node that answered, n/a for the others`, () => {
    const screen = fakeScreen(LOG_CELLS_WIDTH, 40)
    try {
      const view = new TopView(screen)
      const tails = new Map<number, RaftLogAnswer | null>([[0, TAIL], [1, null]])
      view.render(model().snapshot(), 1, (i) => tails.get(i))
      expect(view.logEntriesWanted).to.equal(LOG_CELLS_WIDTH - 4)
      const lines = screenText(screen)
      expect(lines[5].trimEnd()).to.equal('  0 1 1 1 1 3 3 3 3 3 3 3 3')
      // blessed packs a cell's attributes as flags << 18 | fg << 9 | bg; underline is flag 2.
      const attr = (x: number): number => (screen as unknown as {lines: [number, string][][]}).lines[5][x][0]
      expect(attr(4) & 0x1ff, 'term 1: blue behind').to.equal(4)
      expect(attr(12) & 0x1ff, 'term 3: yellow behind').to.equal(3)
      // Entries 11 and 12 are after the commit index (10): hollow, underlined, in the term's color.
      expect(lines[5].slice(22, 26)).to.equal('3 3 ')
      expect((attr(24) >> 18) & 2).to.equal(2)
      expect((attr(24) >> 9) & 0x1ff).to.equal(3)
      expect((attr(20) >> 18) & 2).to.equal(0)
      expect(lines[6].trimEnd()).to.equal('> 1 log: n/a')
      expect(lines[7].trimEnd()).to.equal('  2 log: n/a (stopped)')
      expect(lines[8]).to.include('commits/s')

      resize(screen, LOG_CELLS_WIDTH - 1, 40)
      view.render(model().snapshot(), 1, (i) => tails.get(i))
      expect(view.logEntriesWanted).to.equal(null)
      expect(screenText(screen).join('\n')).not.to.include('log: n/a')
    } finally {
      screen.destroy()
    }
  })
})

describe('top keys and help', () => {
  it('binds every key of the table and only those, and the help lists each with what it does', () => {
    const screen = fakeScreen(80, 24)
    try {
      const got: [KeyCommand, string][] = []
      bindKeys(screen, (command, key) => got.push([command, key]))
      // blessed's own event emitter: its listeners by event name.
      const events = Object.keys((screen as unknown as {_events: Record<string, unknown>})._events)
      const bound = events.filter((e) => e.startsWith('key ')).map((e) => e.slice(4))
      const table = KEY_BINDINGS.flatMap((b) => b.keys)
      expect([...bound].sort()).to.deep.equal([...table].sort())
      for (const key of bound) screen.emit(`key ${key}`, key, {name: key, full: key})
      expect(got.map(([, key]) => key)).to.deep.equal(table)
      expect(got).to.deep.include.members([['quit', 'C-c'], ['help', '?'], ['close-help', 'escape'], ['action', 'x'], ['up', 'k']])

      const view = new TopView(screen)
      view.setHelp(true)
      view.render(model().snapshot(), 0)
      const help = screenText(screen).join('\n')
      for (const binding of KEY_BINDINGS) expect(help).to.include(`${binding.label.padEnd(11)} ${binding.what}`)
      // Nothing in the help that is not bound: every line naming a key names one of the table.
      const named = helpLines()
        .map((l) => /^ {2}(.{11}) \S/.exec(l)?.[1].trim())
        .filter((label): label is string => Boolean(label))
      expect(named).to.deep.equal(KEY_BINDINGS.map((b) => b.label))
      view.setHelp(false)
      view.render(model().snapshot(), 0)
      expect(screenText(screen).join('\n')).not.to.include('hide this help')
    } finally {
      screen.destroy()
    }
  })

  it('has a plan for every action key of the table, and none for the other keys', () => {
    const snapshot = model().snapshot()
    for (const key of ACTION_KEYS) expect(planAction(key, 0, snapshot), key).to.not.equal(null)
    for (const key of KEY_BINDINGS.filter((b) => b.command !== 'action').flatMap((b) => b.keys)) expect(planAction(key, 0, snapshot), key).to.equal(null)
  })
})
