/**
 * The lazy layers of a cluster started with `up --lazy-fs`: one mount per node, over the
 * node's backing dir (node-<i>/disk) on its data dir (node-<i>/data), made before the node's
 * first spawn (also for a node `add` starts) and kept across its restarts, so that what the
 * node wrote and did not fsync stays in the layer until a power cut drops it. Each lazy layer
 * is a child of the supervisor that unmounts itself if the supervisor dies; `down` unmounts
 * them, and `up`/`down` clear what a dead one left (cluster.ts).
 */
import {ClusterError} from '../errors.js'
import {clearStaleMount, mountLazyFs, type CutOptions, type DropReport, type LazyMount} from '../lazy-fs.js'
import {isAlive} from '../process-util.js'
import type {SupervisorCore} from './core.js'
import type {NodeHandle} from './node-handle.js'

export class LazyMounts {
  private readonly mounts = new Map<number, LazyMount>()

  constructor(private readonly core: SupervisorCore) {}

  /** Whether the cluster runs on the lazy layer. */
  get enabled(): boolean {
    return this.core.state.options.lazy_fs === true
  }

  /** Mounts the node's lazy layer unless it is mounted already (no-op without --lazy-fs). */
  async ensure(node: NodeHandle): Promise<void> {
    const r = node.record
    if (r.lazy_fs === undefined) return
    const mounted = this.mounts.get(r.index)
    if (mounted && isAlive(mounted.pid)) return
    // Its lazy layer died (the node then could not write either): mount it again.
    this.mounts.delete(r.index)
    try {
      // A layer of a supervisor that died may still be in the way.
      await clearStaleMount(r.data_dir)
      const mount = await mountLazyFs({backing: r.lazy_fs.backing, mountPoint: r.data_dir, logFile: this.core.paths.nodeLazyLog(r.index)})
      this.mounts.set(r.index, mount)
      r.lazy_fs.pid = mount.pid
      this.core.save()
      this.core.log('lazy layer mounted', {node: r.index, pid: mount.pid, backing: r.lazy_fs.backing, mount: r.data_dir})
    } catch (error) {
      throw new ClusterError('SUPERVISOR', `node ${r.index}: could not mount the lazy layer on ${r.data_dir}: ${(error as Error).message}`)
    }
  }

  /**
   * Drops every write of the node's files not yet fsynced. Only when the node's process has
   * exited: a process with files open on the mount would keep writing into what was dropped.
   */
  async cut(node: NodeHandle, options?: CutOptions): Promise<DropReport> {
    const mount = this.mounts.get(node.record.index)
    if (!mount) throw new ClusterError('NODE_STATE', `node ${node.record.index} has no lazy layer mounted (it never started since up): nothing to cut`)
    return mount.cut(options)
  }

  /** Unmounts one node's lazy layer (its process has stopped), so its data dir can be moved. */
  async unmount(node: NodeHandle): Promise<void> {
    const mount = this.mounts.get(node.record.index)
    if (!mount) return
    await mount.unmount()
    this.mounts.delete(node.record.index)
    if (node.record.lazy_fs) node.record.lazy_fs.pid = null
    this.core.save()
  }

  /** Unmounts every lazy layer (after the nodes have stopped); failures are logged, not thrown. */
  async unmountAll(): Promise<void> {
    await Promise.all(
      [...this.mounts].map(async ([index, mount]) => {
        try {
          await mount.unmount()
        } catch (error) {
          this.core.log('could not unmount a lazy layer', {node: index, mount: mount.mountPoint, error: (error as Error).message})
        }
        this.mounts.delete(index)
        const record = this.core.nodes[index]?.record.lazy_fs
        if (record) record.pid = null
      }),
    )
    this.core.save()
  }
}
