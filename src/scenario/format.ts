/** The narration as people read it: numbered steps, the hint indented below, ✓ or ✗ with detail. */
import type {RunEvent, ScenarioSummary} from './runner.js'
import {seconds} from './narrate.js'

const WIDTH = 100

/** The lines one event prints (none for an event that says nothing to people). */
export function formatRunEvent(event: RunEvent): string[] {
  switch (event.type) {
    case 'cluster': {
      const lines = event.temporary
        ? [`Starting a temporary cluster of ${event.nodes} nodes ("scenario" in ${event.home}).`]
        : [`Running on cluster "${event.cluster}" (${event.nodes} nodes); every node is started and healed first.`]
      lines.push('Watch it live in another terminal:', `    ${event.watch}`, `(${event.watch.replace(' top', ' events -f')} shows the narration in the timeline)`, '')
      return lines
    }
    case 'announce': {
      const head = `[${event.step}/${event.total}] `
      const indent = ' '.repeat(head.length)
      const lines = wrap(event.title, WIDTH - head.length).map((l, i) => (i === 0 ? head : indent) + l)
      if (event.hint !== '') lines.push(...wrap(event.hint, WIDTH - indent.length).map((l) => indent + l))
      return lines
    }
    case 'result':
      if (event.kind === 'say' && event.ok) return ['']
      return [`${' '.repeat(`[${event.step}/${event.total}] `.length)}${event.ok ? '✓' : '✗'} ${event.detail}`, '']
    case 'note':
      return [`note: ${event.text}`]
  }
}

export function formatSummary(summary: ScenarioSummary): string[] {
  const lines: string[] = []
  if (summary.passed) lines.push(`PASSED: ${summary.scenario}, ${summary.steps} steps in ${seconds(summary.ms)}.`)
  else if (summary.failed_step) lines.push(`FAILED: ${summary.scenario} at step ${summary.failed_step.number} of ${summary.steps} (line ${summary.failed_step.line}): ${summary.failed_step.title}`)
  if (summary.kept_dir) lines.push(`The cluster's folder is kept: ${summary.kept_dir} (its events.jsonl has the whole timeline).`)
  return lines
}

/** Words into lines of at most `width` characters (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(line)
  return lines
}
