import {expect} from 'chai'
import {isDiskFull} from '../../src/broker/disk-full.js'

describe('isDiskFull: SQLITE_FULL wherever the error came from', () => {
  const full = Object.assign(new Error('database or disk is full'), {code: 'SQLITE_FULL'})

  it('finds the code on the error or on an error it was made from', () => {
    expect(isDiskFull(full)).to.equal(true)
    expect(isDiskFull(new Error('installing failed', {cause: new Error('write failed', {cause: full})}))).to.equal(true)
  })

  it('says no for other errors and for values that are not errors', () => {
    expect(isDiskFull(Object.assign(new Error('disk I/O error'), {code: 'SQLITE_IOERR'}))).to.equal(false)
    expect(isDiskFull(new Error('database or disk is full'))).to.equal(false)
    for (const value of [null, undefined, 'SQLITE_FULL', 28, {code: 'SQLITE_FUL'}]) expect(isDiskFull(value)).to.equal(false)
  })

  it('stops following causes that loop', () => {
    const a = new Error('a') as Error & {cause?: unknown}
    a.cause = a
    expect(isDiskFull(a)).to.equal(false)
  })
})
