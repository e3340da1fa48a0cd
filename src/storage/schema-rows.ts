/**
 * How the node's values become rows of schema.ts's statements: the writes of the Raft log,
 * its hard state, and the messages the state machine stores. The read side is store-reader.ts.
 */
import type {Entry, HardState, SnapshotMeta} from '../raft/index.js'
import {entryChecksum, hardStateChecksum} from './corruption.js'
import {ENTRY_TYPE_CODE} from './schema.js'
import {clearLiveAboveStatement, clearLiveStatement, installStatement, pruneStatement, STATE_TABLE_INFO} from './state-tables.js'
import type {StoredMessage} from './store-reader.js'
import type {SqlValue, WriteOp} from './writer-protocol.js'

/** Removes the log's entries from index `first` on (a new leader's entries replace them). */
export function truncateLogOp(first: number): WriteOp {
  return {stmt: 'truncateLogFrom', rows: [[first]]}
}

export function appendEntriesOp(entries: Entry[]): WriteOp {
  const rows: SqlValue[][] = entries.map((e: Entry) => {
    const type = ENTRY_TYPE_CODE[e.type]
    return [e.index, e.term, type, e.data, entryChecksum(e.index, e.term, type, e.data)]
  })
  return {stmt: 'appendEntry', rows}
}

export function hardStateOp(hs: HardState): WriteOp {
  return {stmt: 'setHardState', rows: [[hs.term, hs.vote, hs.commit, hardStateChecksum(hs.term, hs.vote, hs.commit)]]}
}

/** One stored message's row of `insertMessages`. */
export function messageRow(m: StoredMessage): SqlValue[] {
  return [m.raftIndex, m.topic, m.offset, m.format, m.body, m.timestamp, m.pubId]
}

export function insertMessagesOp(rows: SqlValue[][]): WriteOp {
  return {stmt: 'insertMessage', rows}
}

/** The state machine has applied the log up to `last`. */
export function setAppliedOp(last: number): WriteOp {
  return {stmt: 'setApplied', rows: [[last]]}
}

/** Each row: topic, first offset, next offset, bytes (store-reader's TopicBounds). */
export function setTopicsOp(rows: SqlValue[][]): WriteOp {
  return {stmt: 'setTopic', rows}
}

/** Each row: topic, its new first offset; the rows below it go. */
export function trimTopicsOp(rows: SqlValue[][]): WriteOp {
  return {stmt: 'trimTopic', rows}
}

/** Each row: seq, publish id, topic, offset. */
export function insertDedupIdsOp(rows: SqlValue[][]): WriteOp {
  return {stmt: 'insertDedupId', rows}
}

/** The dedup window no longer holds the ids up to `seq`. */
export function forgetDedupIdsOp(seq: number): WriteOp {
  return {stmt: 'forgetDedupIds', rows: [[seq]]}
}

/** The retention policy applied, as retention-spec's policyText. */
export function setRetentionPolicyOp(text: string): WriteOp {
  return {stmt: 'setRetentionPolicy', rows: [[text]]}
}

/** Member-directory cards (added or updated; none is ever deleted, so no id is reused). */
export function setMembersOp(members: {id: number; node_id: string; host: string; raft_port: number; tcp_port: number | null; http_port: number | null}[]): WriteOp {
  return {stmt: 'setMember', rows: members.map((m) => [m.id, m.node_id, m.host, m.raft_port, m.tcp_port, m.http_port])}
}

/** This node's own id, once it has joined a cluster (it keeps it for good). */
export function setSelfOp(index: number, cluster: string): WriteOp {
  return {stmt: 'setSelf', rows: [[index, cluster]]}
}

/** One small step of giving free pages back to the file system. */
export function incrementalVacuumOp(): WriteOp {
  return {stmt: 'incrementalVacuum', rows: [[]]}
}

/** Drops the log's entries up to `index` and records (index, term, membership) as the compaction
 * point (the membership as JSON in the `peers` column, which once held a list of voters). */
export function compactLogOps(meta: SnapshotMeta): WriteOp[] {
  return [{stmt: 'compactLogTo', rows: [[meta.index]]}, setSnapshotOp(meta)]
}

/** The compaction point; the statement never moves it back (see schema.ts). */
function setSnapshotOp(meta: SnapshotMeta): WriteOp {
  return {stmt: 'setSnapshot', rows: [[meta.index, meta.term, JSON.stringify(meta.membership)]]}
}

/**
 * Installs the staged snapshot: every state table replaced by its staged rows, the whole log
 * dropped (it starts after the snapshot), the compaction point and the applied index set to the
 * snapshot's. One request, so one transaction: a crash before it commits leaves the old state.
 *
 * With a `base` (the stream carried only the rows of delta tables with a key above it), a delta
 * table keeps its rows up to the base, less those its prune statements remove, and takes the
 * staged rows above it. Its steps come first: pruning compares the live whole tables with the
 * staged ones.
 */
export function installSnapshotOps(meta: SnapshotMeta, base = 0): WriteOp[] {
  const ops: WriteOp[] = []
  const replace = (table: string): WriteOp[] => [{stmt: clearLiveStatement(table), rows: [[]]}, {stmt: installStatement(table), rows: [[]]}]
  for (const table of STATE_TABLE_INFO) {
    if (!table.delta) continue
    if (base === 0) {
      ops.push(...replace(table.name))
      continue
    }
    for (let i = 0; i < table.delta.pruneSql.length; i++) ops.push({stmt: pruneStatement(table.name, i), rows: [[]]})
    ops.push({stmt: clearLiveAboveStatement(table.name), rows: [[base]]}, {stmt: installStatement(table.name), rows: [[]]})
  }
  for (const table of STATE_TABLE_INFO) if (!table.delta) ops.push(...replace(table.name))
  ops.push(truncateLogOp(0), setSnapshotOp(meta), setAppliedOp(meta.index))
  return ops
}
