import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/**
 * The layers of src, bottom to top, and the folders each may import (ARCHITECTURE.md draws
 * them). `util` and `api` import nothing of ours; `raft` is pure and has its own, stricter
 * rule below. chaos, bench and tui sit side by side and never import each other; `cli` (the
 * commands' helpers) and `commands` are the top.
 */
const LOWER = ['api', 'util']
export const LAYERS = {
  util: [],
  api: [],
  storage: ['raft', 'util'],
  transport: ['raft', 'util'],
  broker: ['raft', 'storage', 'transport', ...LOWER],
  client: LOWER,
  cluster: ['client', ...LOWER],
  chaos: ['cluster', 'client', ...LOWER],
  bench: ['cluster', 'client', ...LOWER],
  tui: ['cluster', 'client', ...LOWER],
  scenario: ['cluster', 'client', ...LOWER],
  cli: ['raft', 'storage', 'transport', 'broker', 'client', 'cluster', 'chaos', 'bench', 'tui', 'scenario', ...LOWER],
  commands: ['raft', 'storage', 'transport', 'broker', 'client', 'cluster', 'chaos', 'bench', 'tui', 'scenario', 'cli', ...LOWER],
}
const FOLDERS = ['raft', ...Object.keys(LAYERS)]

function layerRule(folder, allowed) {
  const forbidden = FOLDERS.filter((other) => other !== folder && !allowed.includes(other))
  const may = allowed.length > 0 ? `it may import ${allowed.join(', ')}` : 'it imports nothing of ours'
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', {patterns: [{group: forbidden.flatMap((other) => [`../${other}/*`, `../../${other}/*`]), message: `src/${folder} is a layer: ${may} (see eslint.config.js LAYERS).`}]}],
    },
  }
}

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', 'oclif.manifest.json']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      'no-constant-condition': ['error', {checkLoops: false}],
    },
  },
  {
    files: ['bin/**/*.js', 'test/**/*.js', '*.js'],
    languageOptions: {globals: {process: 'readonly', console: 'readonly'}},
  },
  {
    // The web console's page: ES modules that run in the browser.
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        ['document', 'window', 'location', 'history', 'fetch', 'EventSource', 'FormData', 'AbortSignal', 'requestAnimationFrame', 'performance', 'console'].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['scripts/**/*.mjs'],
    languageOptions: {globals: {process: 'readonly', console: 'readonly', Buffer: 'readonly', performance: 'readonly'}},
  },
  // commands, the top, may import every folder: it has no rule.
  ...Object.entries(LAYERS)
    .filter(([folder]) => folder !== 'commands')
    .map(([folder, allowed]) => layerRule(folder, allowed)),
  {
    // src/raft is the pure consensus core: it must not reach for I/O, clocks or randomness.
    files: ['src/raft/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {patterns: ['node:*', 'fs', 'net', 'http', '../*', '!./*']}],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate', 'process', 'performance', 'Date'],
      'no-restricted-properties': ['error', {object: 'Math', property: 'random'}, {object: 'Date', property: 'now'}],
    },
  },
)
