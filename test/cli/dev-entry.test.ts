/**
 * bin/dev.js, the way to run pad-cli from the TypeScript sources while developing. The
 * process tests run the build (bin/run.js, see cliArgs), so this checks the development entry
 * on its own: its hook sends oclif's imports of dist/ to src/, and a command runs through it.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import {expect} from 'chai'
import {execa} from 'execa'
import {REPO_ROOT} from '../e2e/helpers/node-process.js'

interface Resolved {
  url: string
}
type NextResolve = (specifier: string, context: object) => Promise<Resolved>
interface DevHooks {
  resolve(specifier: string, context: object, next: NextResolve): Promise<Resolved>
}

const url = (relative: string): string => pathToFileURL(path.join(REPO_ROOT, relative)).href

describe('bin/dev.js: pad-cli from the sources', function () {
  this.timeout(30_000)

  it('resolves an import of a compiled file in dist/ to its source in src/, and leaves the rest alone', async () => {
    const hooks = (await import(url('bin/dev-hooks.js'))) as DevHooks
    const next: NextResolve = async (specifier) => ({url: specifier})
    expect(await hooks.resolve(url('dist/commands/status.js'), {}, next)).to.deep.equal({url: url('src/commands/status.ts')})
    // No source of that name (a file only the build has): the build's file.
    expect(await hooks.resolve(url('dist/no-such-module.js'), {}, next)).to.deep.equal({url: url('dist/no-such-module.js')})
    expect(await hooks.resolve('@oclif/core', {}, next)).to.deep.equal({url: '@oclif/core'})
  })

  it('runs a command: a refusal in one line, exit code 1', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-dev-entry-'))
    try {
      const result = await execa(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'bin/dev.js'), 'status', '--cluster', 'nothing'], {
        cwd: REPO_ROOT,
        env: {PAD_HOME: home, NO_COLOR: '1'},
        reject: false,
        timeout: 20_000,
        stdin: 'ignore',
      })
      expect(result.exitCode, String(result.stderr)).to.equal(1)
      expect(String(result.stderr).trim()).to.equal('Error: cluster "nothing" is not up: start it with `pad-cli up --cluster nothing`')
    } finally {
      fs.rmSync(home, {recursive: true, force: true})
    }
  })
})
