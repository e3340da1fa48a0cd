#!/usr/bin/env node
// oclif wraps error messages at 80 columns when stderr is not a terminal (a pipe, a log file,
// a supervisor): one error must stay one line there. Set before oclif loads: it reads it once.
if (!process.stderr.isTTY && !process.env.OCLIF_COLUMNS) process.env.OCLIF_COLUMNS = '100000'
const {execute} = await import('@oclif/core')

await execute({dir: import.meta.url})
