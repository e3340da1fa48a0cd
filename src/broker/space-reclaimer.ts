/**
 * Gives the pages that retention's trims free back to the file system, a small step at a time:
 * `PRAGMA incremental_vacuum` of a few pages, written through `writeAsync`, so it runs on the
 * writer thread (never on this thread's event loop) and queues behind the Raft writes like any
 * other request. Steps go on, a short pause apart, while the database has free pages.
 *
 * Only a database created with auto_vacuum = INCREMENTAL can do this: those an earlier version
 * made. This version makes none (auto-vacuum cost every commit: see the writer's open); a
 * database without it keeps its free pages and reuses them for new messages, so its file stops
 * growing at its high-water mark instead of shrinking.
 */
import {incrementalVacuumOp} from '../storage/schema-rows.js'
import type {StoreReader} from '../storage/store-reader.js'
import type {StoreWriter} from '../storage/store-writer.js'
import type {Logger} from './logger.js'

/** Between two steps: Raft's writes go first. */
const STEP_PAUSE_MS = 50

export class SpaceReclaimer {
  private readonly enabled: boolean
  private running = false
  private stopped = false
  private timer: NodeJS.Timeout | null = null
  /** Steps written, for tests and /stats. */
  steps = 0

  constructor(
    private readonly writer: StoreWriter,
    private readonly reader: StoreReader,
    private readonly logger?: Pick<Logger, 'warn'>,
  ) {
    this.enabled = reader.vacuumsIncrementally()
  }

  /** Trims were written: start stepping if not already. */
  freed(): void {
    if (!this.enabled || this.stopped || this.running) return
    this.running = true
    this.schedule()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private schedule(): void {
    this.timer = setTimeout(() => this.step(), STEP_PAUSE_MS)
    this.timer.unref()
  }

  private step(): void {
    this.timer = null
    if (this.stopped || this.reader.freePages() === 0) {
      this.running = false
      return
    }
    this.steps++
    this.writer.writeAsync([incrementalVacuumOp()], (error) => {
      if (error) {
        // Space is not correctness: say so once per run of steps and try again after the next trim.
        this.logger?.warn('giving free pages back to the file system failed', {error: error.message})
        this.running = false
        return
      }
      if (this.stopped) this.running = false
      else this.schedule()
    })
  }
}
