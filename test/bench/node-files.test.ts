import {expect} from 'chai'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {dataBytes, wipeData, type NodeFolder} from '../../src/bench/node-files.js'

describe('node-files: a node data dir as the catch-up benchmark measures and wipes it', () => {
  let root: string
  let folder: NodeFolder
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-node-files-'))
    folder = {dir: path.join(root, 'node-1'), log: path.join(root, 'node-1', 'node.log')}
    fs.mkdirSync(path.join(folder.dir, 'staging'), {recursive: true})
    fs.writeFileSync(path.join(folder.dir, 'node.db'), Buffer.alloc(4096))
    fs.writeFileSync(path.join(folder.dir, 'node.db-wal'), Buffer.alloc(1000))
    fs.writeFileSync(path.join(folder.dir, 'node.db-shm'), Buffer.alloc(32))
    fs.writeFileSync(path.join(folder.dir, 'staging', 'part'), Buffer.alloc(10))
    fs.writeFileSync(folder.log, Buffer.alloc(777))
    // A link out of the folder is neither followed nor counted.
    fs.writeFileSync(path.join(root, 'outside'), Buffer.alloc(50_000))
    fs.symlinkSync(path.join(root, 'outside'), path.join(folder.dir, 'link'))
  })
  afterEach(() => fs.rmSync(root, {recursive: true, force: true}))

  it('counts the database, its WAL and index, and what is below the folder, not the log', () => {
    expect(dataBytes(folder)).to.equal(4096 + 1000 + 32 + 10)
  })

  it('wipes the node state and keeps the log and what a link points to', () => {
    wipeData(folder)
    expect(fs.readdirSync(folder.dir)).to.deep.equal(['node.log'])
    expect(fs.statSync(path.join(root, 'outside')).size).to.equal(50_000)
    expect(dataBytes(folder)).to.equal(0)
  })

  it('measures a folder that is not there as empty', () => {
    expect(dataBytes({dir: path.join(root, 'missing'), log: path.join(root, 'missing', 'node.log')})).to.equal(0)
    expect(() => wipeData({dir: path.join(root, 'missing'), log: path.join(root, 'missing', 'node.log')})).to.not.throw()
  })
})
