#!/usr/bin/env -S node --import tsx --no-warnings
// Runs the TypeScript sources directly, for development: `./bin/dev.js node`
// (or `node --import tsx bin/dev.js node`). No build needed: see dev-hooks.js.
import {register} from 'node:module'

// As in run.js: one error, one line, also when stderr is not a terminal.
if (!process.stderr.isTTY && !process.env.OCLIF_COLUMNS) process.env.OCLIF_COLUMNS = '100000'
const {execute} = await import('@oclif/core')

register('./dev-hooks.js', import.meta.url)

// Not `development: true`: that turns on oclif debug output (stack traces on every user error),
// so the sources would not behave like the installed command.
await execute({dir: import.meta.url})
