/** The Host and Origin rules of the HTTP API, for listen addresses tests cannot bind to. */
import os from 'node:os'
import {expect} from 'chai'
import {HttpAccess, exposureWarning, hostOfHeader, normalizeOrigin} from '../../src/broker/http-access.js'
import {isJson} from '../../src/broker/http-api.js'

describe('HTTP access rules', () => {
  it('reads the host name of a Host header, with or without port, and refuses malformed ones', () => {
    expect(hostOfHeader('Example.COM:8080')).to.equal('example.com')
    expect(hostOfHeader('[::1]:80')).to.equal('::1')
    expect(hostOfHeader('127.0.0.1')).to.equal('127.0.0.1')
    for (const bad of ['', 'a b', 'x:y', 'a:1:2', '[::1', 'u@h', 'h/p', 'h:123456', 'é.example']) expect(hostOfHeader(bad), bad).to.equal(null)
  })

  it('on loopback answers its own address, localhost, 127.0.0.1 and [::1] only', () => {
    const access = new HttpAccess({host: '127.0.0.1', httpPort: 8080, corsOrigins: []}, () => [])
    for (const host of ['127.0.0.1:8080', 'localhost', '[::1]:8080', undefined]) expect(access.hostAllowed(host), host).to.equal(true)
    for (const host of ['10.0.0.1', 'evil.example', os.hostname() === 'localhost' ? 'x.example' : os.hostname()]) expect(access.hostAllowed(host), host).to.equal(false)
  })

  it('on 0.0.0.0 or :: answers any IP literal, localhost and the machine name, not other names', () => {
    for (const listen of ['0.0.0.0', '::']) {
      const access = new HttpAccess({host: listen, httpPort: 8080, corsOrigins: []}, () => [])
      for (const host of ['10.1.2.3:8080', '[fe80::1]', 'localhost', `${os.hostname()}:8080`]) expect(access.hostAllowed(host), host).to.equal(true)
      expect(access.hostAllowed('evil.example')).to.equal(false)
    }
  })

  it("on a named address answers that name only", () => {
    const access = new HttpAccess({host: 'broker.internal', httpPort: 8080, corsOrigins: []}, () => [])
    expect(access.hostAllowed('BROKER.internal:8080')).to.equal(true)
    expect(access.hostAllowed('localhost')).to.equal(false)
  })

  it("grants writes to the pages of every member it knows, and to --cors-origin, and nothing else", () => {
    const members = [{host: '10.0.0.2', httpPort: 8081}]
    const access = new HttpAccess({host: '10.0.0.1', httpPort: 8080, corsOrigins: ['https://ops.example:8443']}, () => members)
    for (const origin of ['http://10.0.0.1:8080', 'http://10.0.0.2:8081', 'https://ops.example:8443']) expect(access.originAllowed(origin), origin).to.equal(true)
    for (const origin of ['http://10.0.0.2:8080', 'http://10.0.0.1', 'https://10.0.0.1:8080', 'http://10.0.0.1:8080/', 'null', 'http://evil.example:8080']) {
      expect(access.originAllowed(origin), origin).to.equal(false)
    }
  })

  it('takes an origin on the command line only as scheme, host and port', () => {
    expect(normalizeOrigin('http://localhost:3000')).to.equal('http://localhost:3000')
    expect(normalizeOrigin('http://localhost:3000/')).to.equal('http://localhost:3000')
    for (const bad of ['localhost:3000', 'http://localhost:3000/app', 'ftp://x', '*', '', 'http://u@h:1']) expect(() => normalizeOrigin(bad), bad).to.throw(/--cors-origin/)
  })

  it('knows a JSON content type', () => {
    expect(isJson('application/json')).to.equal(true)
    expect(isJson('application/json; charset=utf-8')).to.equal(true)
    for (const other of [undefined, '', 'text/plain', 'application/json-seq', 'application/x-json']) expect(isJson(other), other).to.equal(false)
  })

  it('warns in one line about a non-loopback --host, and not about loopback', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'broker.internal']) {
      const warning = exposureWarning(host)!
      expect(warning).to.match(/TCP/).and.match(/HTTP/).and.match(/Raft/).and.match(/cluster secret/).and.not.include('\n')
    }
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.2']) expect(exposureWarning(host), host).to.equal(null)
  })
})
