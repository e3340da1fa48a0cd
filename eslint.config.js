import js from '@eslint/js'
import tseslint from 'typescript-eslint'

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
    files: ['scripts/**/*.mjs'],
    languageOptions: {globals: {process: 'readonly', console: 'readonly', Buffer: 'readonly', performance: 'readonly'}},
  },
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
