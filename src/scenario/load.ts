/**
 * Where scenarios come from: the built-in files in the package's scenarios/ folder (by name), or
 * a file the user names (a path: it has a "/" or ends in .json, .yaml or .yml). A file ending in
 * .yaml or .yml is read as YAML, any other as JSON. A file is read only if it is a regular file of
 * at most MAX_FILE_BYTES; every problem is a one-line ScenarioLoadError that names the file and,
 * for its content, the line.
 */
import fs from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {MAX_FILE_BYTES, ScenarioFileError} from './json-tree.js'
import type {Scenario} from './schema.js'
import {parseScenario, type ScenarioFormat} from './validate.js'

/** The built-ins: scenarios/ at the package root (two levels above src/scenario and dist/scenario). */
export const BUILTIN_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scenarios')

export class ScenarioLoadError extends Error {}

export interface BuiltinEntry {
  name: string
  summary: string
  file: string
}

/** Every built-in scenario, by name; a broken built-in is an error (the tests read them all). */
export function listBuiltins(dir = BUILTIN_DIR): BuiltinEntry[] {
  let names: string[]
  try {
    names = fs.readdirSync(dir).filter((f) => f.endsWith('.json'))
  } catch (error) {
    throw new ScenarioLoadError(`the built-in scenarios are missing (${dir}): ${(error as Error).message}`)
  }
  return names.sort().map((f) => {
    const file = path.join(dir, f)
    const scenario = readScenarioFile(file)
    return {name: scenario.name, summary: scenario.summary, file}
  })
}

/** A name of a built-in, or a path to a file. */
export function loadScenario(nameOrPath: string, options: {nodes?: number} = {}, dir = BUILTIN_DIR): Scenario {
  if (isPath(nameOrPath)) return readScenarioFile(nameOrPath, options)
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(nameOrPath)) throw new ScenarioLoadError(`"${nameOrPath.slice(0, 80)}" is neither a built-in scenario nor a file: give a name (see pad-cli scenario list) or a path such as ./my-scenario.yaml`)
  const file = path.join(dir, `${nameOrPath}.json`)
  if (!fs.existsSync(file)) {
    const known = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)) : []
    throw new ScenarioLoadError(`no built-in scenario "${nameOrPath}": use ${known.join(', ')}, or a path such as ./my-scenario.yaml`)
  }
  return readScenarioFile(file, options)
}

function isPath(text: string): boolean {
  return text.includes('/') || text.includes(path.sep) || /\.(json|ya?ml)$/i.test(text)
}

/** By the file's extension: the built-ins are JSON, a user's file may be either. */
export function formatOf(file: string): ScenarioFormat {
  return /\.ya?ml$/i.test(file) ? 'yaml' : 'json'
}

export function readScenarioFile(file: string, options: {nodes?: number} = {}): Scenario {
  let text: string
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch (error) {
    throw new ScenarioLoadError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  try {
    const stat = fs.fstatSync(fd)
    if (!stat.isFile()) throw new ScenarioLoadError(`${file} is not a regular file`)
    if (stat.size > MAX_FILE_BYTES) throw new ScenarioLoadError(`${file} is ${stat.size} bytes: a scenario file is at most ${MAX_FILE_BYTES / 1024} KiB`)
    const buffer = Buffer.alloc(stat.size)
    const read = fs.readSync(fd, buffer, 0, stat.size, 0)
    text = buffer.subarray(0, read).toString('utf8')
  } finally {
    fs.closeSync(fd)
  }
  try {
    return parseScenario(text, {...options, format: formatOf(file)})
  } catch (error) {
    if (error instanceof ScenarioFileError) throw new ScenarioLoadError(`${file}:${error.line}: ${error.reason}`)
    throw error
  }
}
