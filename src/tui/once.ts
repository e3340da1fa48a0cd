/**
 * `pad-cli top --once`: the dashboard's data, once, for scripts and tests. Two status
 * answers a second apart give the commit rate.
 */
import type {ClusterHandle} from '../cluster/cluster.js'
import {table} from '../cluster/output.js'
import {LiveFeed} from './feed.js'
import {TopModel, type TopSnapshot} from './model.js'
import {headerPlain} from './view.js'
import {formatBytes} from '../util/size-text.js'
import {sleep} from '../util/time.js'

export async function takeSnapshot(cluster: ClusterHandle, rateWindowMs = 1000): Promise<TopSnapshot> {
  const model = new TopModel(cluster.name)
  const feed = new LiveFeed(cluster, model)
  try {
    await feed.start()
    feed.stop()
    await sleep(rateWindowMs)
    // A second status into the same model: the commit rate over the window.
    model.setStatus(await cluster.status())
    return model.snapshot()
  } finally {
    feed.stop()
  }
}

export function snapshotText(s: TopSnapshot): string {
  const rows = s.nodes.map((n) => [
    String(n.index),
    n.node_id,
    n.membership.toUpperCase(),
    n.process,
    n.role,
    String(n.term ?? '-'),
    String(n.commit_index ?? '-'),
    String(n.last_applied ?? '-'),
    String(n.log_length ?? '-'),
    String(n.lag ?? '-'),
    String(n.first_index ?? '-'),
    n.disk_bytes === null ? '-' : formatBytes(n.disk_bytes),
    n.faults || '-',
  ])
  const lines = [
    headerPlain(s).trim(),
    '',
    table(['#', 'NODE', 'MEMBER', 'PROCESS', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LOG', 'LAG', 'FIRST', 'DISK', 'FAULTS'], rows),
    '',
    'Events, newest first:',
    ...s.timeline.slice(0, 10).map((e) => `${e.time.slice(11, 23)}  ${e.text}`),
  ]
  return lines.join('\n')
}
