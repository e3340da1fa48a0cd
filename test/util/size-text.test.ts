import {expect} from 'chai'
import {formatBytes, formatSeconds} from '../../src/util/size-text.js'

describe('sizes and durations for people', () => {
  it('prints bytes in powers of 1024 with one decimal', () => {
    expect(formatBytes(0)).to.equal('0 B')
    expect(formatBytes(1023)).to.equal('1023 B')
    expect(formatBytes(1024)).to.equal('1.0 KB')
    expect(formatBytes(24_222_105)).to.equal('23.1 MB')
    expect(formatBytes(1024 * 1024 - 1)).to.equal('1.0 MB')
    expect(formatBytes(3 * 1024 ** 3)).to.equal('3.0 GB')
    expect(formatBytes(2 * 1024 ** 5)).to.equal('2048.0 TB')
  })

  it('prints milliseconds as seconds with one decimal', () => {
    expect(formatSeconds(0)).to.equal('0.0 s')
    expect(formatSeconds(2449)).to.equal('2.4 s')
    expect(formatSeconds(95_000)).to.equal('95.0 s')
  })
})
