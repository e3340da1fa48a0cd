import {expect} from 'chai'
import {readCorruptMarker} from '../../src/broker/corrupt-marker.js'
import {FAILED_STOP_MS} from '../../src/broker/node.js'
import {CorruptionError} from '../../src/storage/corruption.js'
import {eventually} from '../e2e/helpers/node-process.js'
import {InProcessCluster} from './helpers/in-process-cluster.js'

// BrokerNode.fail in a process that is not the node's own: a node given onCorrupt (the command's
// corrupt mode, these in-process clusters) stops and hands over, with no exit armed behind it; a
// storage failure stops and exits, bounded by FAILED_STOP_MS. process.exit and setTimeout are
// watched for the duration of the test only: the runner is the process here.

describe('a node that fails while running', function () {
  this.timeout(60_000)
  let cluster: InProcessCluster | null = null
  const realExit = process.exit
  const realSetTimeout = globalThis.setTimeout
  const exits: (number | string | null | undefined)[] = []
  /** The delays of the timers armed while `fn` runs (synchronously: fail arms its bound before it returns). */
  function timersArmedBy(fn: () => void): number[] {
    const armed: number[] = []
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      armed.push(args[1] ?? 0)
      return realSetTimeout(...args)
    }) as typeof setTimeout
    try {
      fn()
    } finally {
      globalThis.setTimeout = realSetTimeout
    }
    return armed
  }

  beforeEach(() => {
    exits.length = 0
    process.exit = ((code?: number | string | null) => void exits.push(code)) as typeof process.exit
  })

  afterEach(async () => {
    process.exit = realExit
    await cluster?.close()
    cluster = null
  })

  it('with onCorrupt: stops, records the finding, hands it over, and arms no exit', async () => {
    cluster = await InProcessCluster.start()
    const member = cluster.node(1)
    const file = `${cluster.dataDir(1)}/node.db`
    const armed = timersArmedBy(() => member.broker.driver.emit('fatal', new CorruptionError(file, 'raft_log entry 9 (term 2) fails its checksum')))
    expect(armed).to.not.include(FAILED_STOP_MS)
    const found = await eventually('onCorrupt is called', () => cluster!.corruptions[0], 20_000)
    expect(found.index).to.equal(1)
    expect(found.info).to.deep.include({file, reason: 'raft_log entry 9 (term 2) fails its checksum', node_index: 1})
    expect(readCorruptMarker(cluster.dataDir(1))?.reason).to.equal(found.info.reason)
    expect(exits).to.deep.equal([])
  })

  it('a storage failure: stops, then exits non-zero, with the bound armed', async () => {
    cluster = await InProcessCluster.start()
    const member = cluster.node(2)
    const armed = timersArmedBy(() => member.broker.driver.emit('fatal', Object.assign(new Error('disk I/O error'), {code: 'SQLITE_IOERR'})))
    expect(armed).to.include(FAILED_STOP_MS)
    await eventually('the node exits after its stop', () => (exits.length > 0 ? exits : undefined), 20_000)
    expect(exits).to.deep.equal([1])
    expect(cluster.corruptions).to.deep.equal([])
    expect(readCorruptMarker(cluster.dataDir(2))).to.equal(null)
  })
})
