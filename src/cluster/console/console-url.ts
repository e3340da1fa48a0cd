/**
 * The console's address for people: the port the running supervisor recorded in cluster.json,
 * and the cluster token in the URL's fragment (`#token=`), which a browser never sends to a
 * server, so it stays out of requests, logs and Referer headers. The page reads it from there.
 */
import type {ClusterPaths} from '../layout.js'
import {readState, readToken} from '../state.js'

/** The URL of the running cluster's console, or null when it runs none (no supervisor, --no-web, or an older one). */
export function consoleUrl(paths: ClusterPaths): string | null {
  const port = readState(paths)?.supervisor?.web_port
  if (typeof port !== 'number') return null
  return `http://127.0.0.1:${port}/#token=${encodeURIComponent(readToken(paths))}`
}
