import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {expect} from 'chai'
import {ESLint} from 'eslint'

// The layer rule of eslint.config.js, run on one-line files placed in the folders of src: an
// import down the layers passes, one up or sideways is an error that names the layer's rule.

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

describe('lint: the layers of src', function () {
  this.timeout(60_000)
  const eslint = new ESLint({cwd: REPO_ROOT})

  async function layerErrors(file: string, from: string): Promise<string[]> {
    const [result] = await eslint.lintText(`import {x} from '${from}'\nexport const y = x\n`, {filePath: path.join(REPO_ROOT, file)})
    return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
  }

  it('refuses an import up or across the layers, saying what the folder may import', async () => {
    const refused: [string, string][] = [
      ['src/cluster/x.ts', '../cli/fail.js'],
      ['src/cluster/x.ts', '../chaos/nemesis.js'],
      ['src/cluster/x.ts', '../broker/limits.js'],
      ['src/client/x.ts', '../cluster/cluster.js'],
      ['src/api/x.ts', '../util/time.js'],
      ['src/util/x.ts', '../api/node-http.js'],
      ['src/chaos/x.ts', '../bench/targets.js'],
      ['src/bench/x.ts', '../chaos/monitor.js'],
      ['src/tui/x.ts', '../chaos/run.js'],
      ['src/scenario/x.ts', '../chaos/checker.js'],
      ['src/scenario/x.ts', '../cli/fail.js'],
      ['src/chaos/x.ts', '../scenario/runner.js'],
      ['src/chaos/x.ts', '../commands/chaos.js'],
      ['src/cli/x.ts', '../commands/up.js'],
      ['src/storage/x.ts', '../broker/node.js'],
      ['src/transport/x.ts', '../storage/schema.js'],
      ['src/broker/x.ts', '../client/node-http-client.js'],
      ['src/raft/x.ts', '../util/time.js'],
    ]
    for (const [file, from] of refused) {
      const errors = await layerErrors(file, from)
      expect(errors, `${file} importing ${from}`).to.have.length(1)
    }
    expect(await layerErrors('src/cluster/x.ts', '../cli/fail.js')).to.deep.equal([
      "'../cli/fail.js' import is restricted from being used by a pattern. src/cluster is a layer: it may import client, api, util (see eslint.config.js LAYERS).",
    ])
  })

  it('lets each folder import the layers below it', async () => {
    const allowed: [string, string][] = [
      ['src/cluster/x.ts', '../client/node-http-client.js'],
      ['src/cluster/x.ts', '../util/time.js'],
      ['src/cluster/x.ts', './faults.js'],
      ['src/chaos/x.ts', '../cluster/supervised-cluster.js'],
      ['src/bench/x.ts', '../client/raft-state.js'],
      ['src/tui/x.ts', '../cluster/status.js'],
      ['src/scenario/x.ts', '../cluster/supervised-cluster.js'],
      ['src/scenario/x.ts', '../client/stored-messages.js'],
      ['src/commands/scenario/x.ts', '../../scenario/runner.js'],
      ['src/broker/x.ts', '../storage/schema.js'],
      ['src/broker/x.ts', '../util/time.js'],
      ['src/storage/x.ts', '../raft/index.js'],
      ['src/cli/x.ts', '../chaos/run.js'],
      ['src/commands/x.ts', '../cli/fail.js'],
      ['src/commands/x.ts', '../broker/node.js'],
    ]
    for (const [file, from] of allowed) expect(await layerErrors(file, from), `${file} importing ${from}`).to.deep.equal([])
  })
})
