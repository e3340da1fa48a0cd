import {Flags} from '@oclif/core'
import {downCluster, upCommand, type DownResult} from '../cluster/cluster.js'
import {clusterFlag} from '../cli/cluster-command.js'
import {PadCommand} from '../cli/pad-command.js'

export default class Down extends PadCommand<DownResult> {
  static override summary = 'Stop every process of the cluster; with --purge, delete its data too.'

  static override description = `Stops the nodes gracefully (SIGTERM; SIGKILL for any still running after a few seconds), \
then the supervisor. Works also when the supervisor has died or hangs: every process recorded in cluster.json that is \
still ours is stopped. A cluster brought up with --netns loses its network namespaces, veths and bridge (also when \
its supervisor died). Without --purge the data stays, and pad-cli up starts the cluster again on it.`

  static override examples = ['<%= config.bin %> down', '<%= config.bin %> down --purge', '<%= config.bin %> down --cluster test --json']

  static override flags = {
    cluster: clusterFlag,
    purge: Flags.boolean({description: 'also delete the cluster folder: data, logs, events, token'}),
  }

  async run(): Promise<DownResult> {
    const {flags} = await this.parse(Down)
    const result = await downCluster(flags.cluster, flags.purge)
    if (result.was_up) {
      const forced = result.forced.length > 0 ? ` (${result.forced.length} had to be killed)` : ''
      this.log(`Cluster "${result.cluster}" is down: stopped ${result.stopped.length} node process(es)${forced}.`)
    } else {
      this.log(`Cluster "${result.cluster}" is not up: nothing to stop (start it with \`${upCommand(result.cluster)}\`).`)
    }
    if (result.network.length > 0) this.log(`Removed its network: ${result.network.join(', ')}.`)
    if (result.purged) this.log('Its data, logs and events are deleted.')
    else if (flags.purge) this.log('There was no data to delete.')
    return result
  }
}
