import {Flags} from '@oclif/core'
import {ClusterCommand, clusterFlag} from '../cli/cluster-command.js'
import {clusterPaths} from '../cluster/layout.js'
import {runBackgroundSupervisor} from '../cluster/supervisor.js'

export default class Supervisor extends ClusterCommand {
  static override hidden = true

  static override summary = 'Run the supervisor of a cluster (pad-cli up starts it; not for direct use).'

  static override description = `Spawns and watches the nodes of the cluster described by $PAD_HOME/<cluster>/cluster.json, \
records the event timeline, and serves the control API on the cluster's Unix socket until pad-cli down.`

  static override examples = ['<%= config.bin %> up   # starts a supervisor in the background']

  static override flags = {
    cluster: clusterFlag,
    dir: Flags.string({description: 'the cluster folder, as a check (and a marker in the process list)', hidden: true}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Supervisor)
    const paths = clusterPaths(flags.cluster)
    if (flags.dir !== undefined && flags.dir !== paths.dir) this.error(`--dir ${flags.dir} is not the folder of cluster "${flags.cluster}" (${paths.dir})`, {exit: 2})
    await runBackgroundSupervisor(paths)
  }
}
