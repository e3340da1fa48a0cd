/**
 * `corrupt` and `repair`: the file nemesis on a stopped node, and the way back for a node that
 * found its data corrupt.
 *
 * Repair is `replace`: a new member (a new node id) joins, catches up from the leader (by
 * snapshot once the log is compacted) and is promoted, then the corrupt node is removed, and its
 * data dir is set aside for inspection. A corrupt node cannot simply be wiped and restarted under
 * its own id: empty, it would still count as a voter that holds what it acknowledged before, and
 * could help elect a leader that lacks a committed entry (Raft's safety argument assumes a voter
 * never forgets). A new id is a new voter that has promised nothing; the old id is removed through
 * the log, as any member is.
 */
import fs from 'node:fs'
import type {ControlAnswers, RequestOf} from '../../api/control.js'
import {corruptReport} from '../../client/corrupt-report.js'
import {ClusterError} from '../errors.js'
import {corruptFile, targetPath} from '../file-corruption.js'
import {STATUS_TIMEOUT_MS, type SupervisorCore} from './core.js'
import type {LazyMounts} from './lazy-mounts.js'
import type {MembershipChanges} from './membership.js'
import {hasProcess, type NodeHandle} from './node-handle.js'

/** Damages a stopped node's file; refused while it runs (SQLite's cache and WAL index would hide the damage, or spread it). */
export function corruptStopped(core: SupervisorCore, node: NodeHandle, request: RequestOf<'corrupt'>): ControlAnswers['corrupt'] {
  const index = node.record.index
  if (hasProcess(node)) {
    throw new ClusterError('NODE_STATE', `node ${index} is running (pid ${node.record.pid}): corrupt damages a stopped node's files only; stop it first (pad-cli stop ${index}, or pad-cli kill ${index} to leave its WAL as a crash does)`)
  }
  const file = targetPath(node.record.data_dir, request.file)
  const how = request.bitflip !== undefined ? {bitflip: request.bitflip} : {truncate: request.truncate ?? 0}
  let done
  try {
    done = corruptFile(file, how)
  } catch (error) {
    const hint = request.file === 'wal' ? ' (the node has no WAL now: everything was checkpointed into its database; damage --file db)' : ''
    throw new ClusterError('NODE_STATE', `${(error as Error).message}${hint}`)
  }
  const answer: ControlAnswers['corrupt'] = {
    node: index,
    file,
    how: 'bitflip' in how ? 'bitflip' : 'truncate',
    bytes_before: done.bytes_before,
    bytes_after: done.bytes_after,
    ...('bitflip' in how ? {flipped: how.bitflip, range: done.range, bits: done.bits} : {cut: done.cut}),
  }
  core.events.record('corrupt', {...answer})
  return answer
}

/** Replaces a node that reports corrupt data (any node with `force`) and sets its data dir aside. */
export async function repairCorrupt(core: SupervisorCore, membership: MembershipChanges, mounts: LazyMounts, node: NodeHandle, force: boolean): Promise<ControlAnswers['repair']> {
  const index = node.record.index
  if (node.record.membership === 'removed') throw new ClusterError('NODE_STATE', `node ${index} was removed already: nothing to repair`)
  let reason: string | null = null
  if (hasProcess(node)) {
    try {
      reason = (await corruptReport(node.record, STATUS_TIMEOUT_MS))?.reason ?? null
    } catch {
      // It does not answer: it says nothing corrupt.
    }
  }
  if (reason === null && !force) {
    const now = hasProcess(node) ? 'it does not report corrupt data' : `it is ${node.record.process}, so it cannot say whether its data is sound (start it: a node checks its data as it starts)`
    throw new ClusterError('NODE_STATE', `node ${index}: ${now}; nothing to repair (pad-cli repair ${index} --force replaces it anyway)`)
  }
  const {added, removed} = await membership.replace(node)
  const kept = await core.serialized(async () => {
    const backing = node.record.lazy_fs?.backing
    if (backing === undefined) return setAside(node.record.data_dir)
    // On the lazy layer the data dir is a mount point (renaming it fails with EBUSY): the layer
    // goes first, then its backing dir, where the data is, is set aside, and the empty mount point removed.
    await mounts.unmount(node)
    if (fs.existsSync(node.record.data_dir)) fs.rmdirSync(node.record.data_dir)
    return setAside(backing)
  })
  core.events.record('repair', {node: index, replacement: added.node, kept, reason})
  return {node: index, reason, added, removed, kept}
}

/** Renames a data dir out of the way (never deleted: it is evidence); null when there is none. */
function setAside(dataDir: string): string | null {
  if (!fs.existsSync(dataDir)) return null
  const kept = `${dataDir}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`
  fs.renameSync(dataDir, kept)
  return kept
}
