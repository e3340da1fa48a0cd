/**
 * The page's files: a fixed allow-list of what web/console/ holds (shipped in the package
 * with "files"), read once and kept in memory. Nothing else on disk is reachable by URL.
 */
import fs from 'node:fs'
import {fileURLToPath} from 'node:url'

/** src/cluster/console/ and dist/cluster/console/ both sit three folders below the package root. */
const WEB_DIR = fileURLToPath(new URL('../../../web/console/', import.meta.url))

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
}

/** URL path -> file in web/console/. */
export const STATIC_FILES: Readonly<Record<string, string>> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/style.css': 'style.css',
  '/main.js': 'main.js',
  '/stream.js': 'stream.js',
  '/render.js': 'render.js',
  '/canvas.js': 'canvas.js',
  '/actions.js': 'actions.js',
}

export interface StaticFile {
  type: string
  body: Buffer
}

const cache = new Map<string, StaticFile>()

/** The file served at `urlPath`, or null when it is not on the list (or missing from the package). */
export function staticFile(urlPath: string): StaticFile | null {
  const name = Object.hasOwn(STATIC_FILES, urlPath) ? STATIC_FILES[urlPath] : undefined
  if (name === undefined) return null
  let file = cache.get(name)
  if (!file) {
    try {
      file = {type: TYPES[name.slice(name.lastIndexOf('.') + 1)], body: fs.readFileSync(WEB_DIR + name)}
    } catch {
      return null
    }
    cache.set(name, file)
  }
  return file
}
