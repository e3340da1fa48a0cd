/**
 * The dedup window: the last N publish ids in log order, with the topic and offset each was
 * stored at. It is state-machine state of its own (the dedup_ids table), not read off the stored
 * messages, so retention can trim a message without a restarted member forgetting its id while
 * the members that stayed up remember it: both would then answer a retried publish differently.
 *
 * Ids are numbered (seq) in the order they were remembered; the window is the N highest. A seen
 * id is a duplicate and is not remembered again, so the ids in the window are distinct.
 */
import {forgetDedupIdsOp, insertDedupIdsOp} from '../storage/schema-rows.js'
import type {SqlValue, WriteOp} from '../storage/writer-protocol.js'

export interface DedupEntry {
  topic: string
  offset: number
}

export class DedupWindow {
  private readonly ids = new Map<string, DedupEntry>()
  private seq = 0
  /** The id remembered as `seq`. */
  private lastId: string | null = null
  private unwritten: SqlValue[][] = []

  constructor(private readonly size: number) {}

  /** Replaces the window with stored rows, oldest first (StoreReader.recentPublishIds). */
  load(rows: {seq: number; id: string; topic: string; offset: number}[]): void {
    this.ids.clear()
    this.unwritten = []
    this.seq = 0
    this.lastId = null
    this.extend(rows)
  }

  /** The newest id remembered: its seq (0 when none) and the id. */
  get newest(): {seq: number; id: string | null} {
    return {seq: this.seq, id: this.lastId}
  }

  /**
   * Remembers stored rows that follow the ones remembered, oldest first: what load() of the
   * whole window would give when those were its beginning (ids are numbered in log order, the
   * same on every member), for reading only what is new.
   */
  extend(rows: {seq: number; id: string; topic: string; offset: number}[]): void {
    for (const row of rows) {
      if (row.seq <= this.seq) continue
      this.add(row.id, {topic: row.topic, offset: row.offset})
      this.seq = row.seq
      this.lastId = row.id
    }
  }

  get(id: string): DedupEntry | undefined {
    return this.ids.get(id)
  }

  remember(id: string, topic: string, offset: number): void {
    this.seq++
    this.lastId = id
    this.add(id, {topic, offset})
    this.unwritten.push([this.seq, id, topic, offset])
  }

  /** The writes of the ids remembered since the last call; the ones that left the window go. */
  takeOps(): WriteOp[] {
    if (this.unwritten.length === 0) return []
    const ops = [insertDedupIdsOp(this.unwritten)]
    this.unwritten = []
    if (this.seq > this.size) ops.push(forgetDedupIdsOp(this.seq - this.size))
    return ops
  }

  private add(id: string, entry: DedupEntry): void {
    this.ids.delete(id)
    this.ids.set(id, entry)
    if (this.ids.size > this.size) this.ids.delete(this.ids.keys().next().value as string)
  }
}
