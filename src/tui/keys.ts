/**
 * Every key `pad-cli top` handles, with what it does, in one table: app.ts binds the keys from
 * it and the help box lists it, so the help cannot forget a key nor list one that does nothing.
 * What an action key does to the cluster is planAction's (actions.ts).
 */
import type blessed from 'blessed'
import {PUBLISH_RATE} from './actions.js'

export type KeyCommand = 'up' | 'down' | 'action' | 'help' | 'close-help' | 'quit'

export interface KeyBinding {
  /** blessed key names. */
  keys: string[]
  /** How the help names them. */
  label: string
  what: string
  command: KeyCommand
}

const action = (key: string, what: string): KeyBinding => ({keys: [key], label: key, what, command: 'action'})

/** In the order the help lists them. */
export const KEY_BINDINGS: readonly KeyBinding[] = [
  {keys: ['up', 'k'], label: '↑ or k', what: 'select the node above', command: 'up'},
  {keys: ['down', 'j'], label: '↓ or j', what: 'select the node below', command: 'down'},
  action('x', 'kill the selected node (SIGKILL)'),
  action('s', 'stop the selected node (SIGTERM)'),
  action('r', 'start the selected node, or restart it'),
  action('p', 'pause the selected node (SIGSTOP), or resume it'),
  action('i', 'isolate the selected node (partition)'),
  action('h', 'heal every network fault'),
  action('t', 'move leadership away from the selected leader'),
  action('a', 'add a node (it joins as a learner, then votes)'),
  action('d', 'remove the selected node from the cluster'),
  action('w', 'cut the selected node\'s power (needs up --lazy-fs)'),
  action('b', `start or stop publishing ${PUBLISH_RATE} msgs/s`),
  {keys: ['?'], label: '?', what: 'show or hide this help', command: 'help'},
  {keys: ['escape'], label: 'Escape', what: 'hide this help', command: 'close-help'},
  {keys: ['q', 'C-c'], label: 'q, Ctrl-C', what: 'quit', command: 'quit'},
]

/** The keys that act on the cluster (planAction has a plan for each). */
export const ACTION_KEYS: readonly string[] = KEY_BINDINGS.filter((b) => b.command === 'action').flatMap((b) => b.keys)

/** Binds every key of the table on `screen`; `handle` gets the command and the key pressed. */
export function bindKeys(screen: blessed.Widgets.Screen, handle: (command: KeyCommand, key: string) => void): void {
  for (const binding of KEY_BINDINGS) {
    for (const key of binding.keys) screen.key([key], () => handle(binding.command, key))
  }
}

const HELP_FOOTER = [
  'Every action prints its pad-cli command in the timeline.',
  'Chart: commits/s, p99 publish latency of b (ms), last 60 s.',
  'From 120 columns: log cells by term, solid when committed.',
]

/** The help box's text, plain (the view escapes it). */
export function helpLines(): string[] {
  return [...KEY_BINDINGS.map((b) => `  ${b.label.padEnd(11)} ${b.what}`), ...HELP_FOOTER.map((l) => (l ? `  ${l}` : l))]
}
