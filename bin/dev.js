#!/usr/bin/env -S node --import tsx --no-warnings
// Runs the TypeScript sources directly, for development: `./bin/dev.js node`
// (or `node --import tsx bin/dev.js node`). No build needed: see dev-hooks.js.
import {register} from 'node:module'
import {execute} from '@oclif/core'

register('./dev-hooks.js', import.meta.url)

await execute({development: true, dir: import.meta.url})
