import {Flags} from '@oclif/core'
import {spawn} from 'node:child_process'
import {DEFAULT_WEB_PORT} from '../api/console.js'
import {clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'
import {ClusterHandle} from '../cluster/cluster.js'
import {consoleUrl} from '../cluster/console/console-url.js'
import {ClusterError} from '../cluster/errors.js'

/** What `web --json` prints. */
export interface WebResult {
  url: string
  opened: boolean
}

export default class Web extends PadCommand<WebResult> {
  static override summary = "Print the URL of a running cluster's web console and open it in a browser."

  static override description = `The supervisor serves the console on 127.0.0.1 (port: up --web-port, default ${DEFAULT_WEB_PORT}): \\
every node's role, term, commit and applied indexes, its log as cells colored by term, Raft messages in flight, \\
the timeline, commit rate and write latency, live; and the actions of pad-cli top (kill, stop, start, pause, resume, \\
isolate, partition by dragging nodes into groups, heal, transfer, delay), each echoing its pad-cli command, and a \\
publish form. The URL carries the cluster token after # (a browser never sends that part to a server): keep it to \\
yourself. Opens it with xdg-open when there is one; --no-open only prints it. See docs/console.md.`

  static override examples = ['<%= config.bin %> web', '<%= config.bin %> web --cluster test --no-open']

  static override flags = {
    cluster: clusterFlag,
    open: Flags.boolean({description: 'open the URL with xdg-open (--no-open: only print it)', default: true, allowNo: true}),
  }

  async run(): Promise<WebResult> {
    const {flags} = await this.parse(Web)
    const handle = await ClusterHandle.open(flags.cluster)
    const url = consoleUrl(handle.paths)
    if (url === null) throw new ClusterError('UNSUPPORTED', `cluster "${flags.cluster}" runs without a web console: start it with pad-cli up --web-port <port>`)
    const opened = flags.open ? await openBrowser(url) : false
    this.log(url)
    if (flags.open && !opened) this.log('(no browser to open it with here: xdg-open is missing or failed; open the URL yourself)')
    return {url, opened}
  }
}

/** Hands the URL to xdg-open (detached); true if it started and did not fail at once. */
function openBrowser(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('xdg-open', [url], {detached: true, stdio: 'ignore'})
    const timer = setTimeout(() => {
      child.unref()
      resolve(true)
    }, 1000)
    child.once('error', () => {
      clearTimeout(timer)
      resolve(false)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve(code === 0)
    })
  })
}
