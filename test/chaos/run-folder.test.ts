import path from 'node:path'
import {expect} from 'chai'
import {runFolder} from '../../src/chaos/run.js'

// Every chaos run writes history.json in its own folder: the temporary cluster's, or one per
// run inside the folder of the user's cluster, so two runs there never overwrite each other.

describe('chaos: where a run keeps its history', () => {
  const started = new Date('2026-03-04T05:06:07.890Z')

  it('is the temporary cluster folder itself', () => {
    expect(runFolder(path.join('pad-chaos-7-x', 'chaos'), {cluster: undefined, seed: 7}, started)).to.equal(path.join('pad-chaos-7-x', 'chaos'))
  })

  it('is a folder per run (seed and UTC start) in the folder of a cluster brought up with pad-cli up', () => {
    const dir = path.join('pad-home', 'default')
    expect(runFolder(dir, {cluster: 'default', seed: 42}, started)).to.equal(path.join(dir, 'chaos-42-20260304T050607'))
    expect(runFolder(dir, {cluster: 'default', seed: 42}, new Date(started.getTime() + 1000))).to.not.equal(runFolder(dir, {cluster: 'default', seed: 42}, started))
  })
})
