/**
 * The cluster's secret as `pad-cli node` reads it: a token that is given but empty, blank,
 * short or in two words is refused at start, in one line, with exit code 2.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {readNodeToken, TokenError} from '../../src/cli/token.js'
import {MIN_TOKEN_CHARS} from '../../src/broker/limits.js'
import {nodeFixture} from '../e2e/helpers/node-process.js'

const GOOD = 'a-cluster-secret-of-enough-length'

describe('node token', () => {
  let dir: string
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-token-'))))
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  const file = (content: string): string => {
    const name = path.join(dir, 'token')
    fs.writeFileSync(name, content, {mode: 0o600})
    return name
  }

  describe('readNodeToken', () => {
    it('is null when no token is given', () => {
      expect(readNodeToken(undefined, {})).to.equal(null)
    })

    it('reads --token-file, trimming the final newline, before PAD_TOKEN', () => {
      expect(readNodeToken(file(GOOD + '\n'), {PAD_TOKEN: 'another-secret-that-is-long'})).to.equal(GOOD)
      expect(readNodeToken(undefined, {PAD_TOKEN: `  ${GOOD} `})).to.equal(GOOD)
    })

    it(`takes one of exactly ${MIN_TOKEN_CHARS} characters`, () => {
      expect(readNodeToken(undefined, {PAD_TOKEN: 'x'.repeat(MIN_TOKEN_CHARS)})).to.equal('x'.repeat(MIN_TOKEN_CHARS))
    })

    const bad: [string, string, RegExp][] = [
      ['empty', '', /is empty/],
      ['blank', ' \t\n ', /is empty/],
      ['short', 'x'.repeat(MIN_TOKEN_CHARS - 1), new RegExp(`has ${MIN_TOKEN_CHARS - 1} characters`)],
      ['two words', 'first-half-of-it second-half-of-it', /white space/],
    ]
    for (const [what, token, message] of bad) {
      it(`refuses a ${what} token in a file and in PAD_TOKEN`, () => {
        expect(() => readNodeToken(file(token), {})).to.throw(TokenError, message)
        expect(() => readNodeToken(undefined, {PAD_TOKEN: token})).to.throw(TokenError, message).and.match(/PAD_TOKEN/)
      })
    }

    it('says when the token file cannot be read', () => {
      expect(() => readNodeToken(path.join(dir, 'missing'), {})).to.throw(TokenError, /cannot read --token-file/)
    })
  })

  describe('pad-cli node with an unusable token (real process)', function () {
    this.timeout(60_000)
    const nodes = nodeFixture('each')

    async function refusedStart(args: string[], env: Record<string, string> = {}): Promise<string> {
      const saved = {...process.env}
      Object.assign(process.env, env)
      let node
      try {
        node = await nodes.start({args, waitHealthy: false})
      } finally {
        for (const key of Object.keys(env)) {
          if (saved[key] === undefined) delete process.env[key]
          else process.env[key] = saved[key]
        }
      }
      const exit = await node.waitExit(30_000)
      expect(exit, node.output).to.deep.equal({code: 2, signal: null})
      const lines = node.output.split('\n').filter((l) => l.replace(/^\[stderr\]/, '').trim() !== '')
      expect(lines, node.output).to.have.length(1)
      return lines[0]
    }

    it('exits 2 with one line for an empty, blank or short --token-file', async () => {
      expect(await refusedStart(['--token-file', file('')])).to.match(/is empty/)
      expect(await refusedStart(['--token-file', file('   \n')])).to.match(/is empty/)
      expect(await refusedStart(['--token-file', file('short\n')])).to.match(/has 5 characters: give at least 16/)
    })

    it('exits 2 with one line for an empty or short PAD_TOKEN', async () => {
      expect(await refusedStart([], {PAD_TOKEN: ''})).to.match(/PAD_TOKEN is empty/)
      expect(await refusedStart([], {PAD_TOKEN: 'abc'})).to.match(/PAD_TOKEN has 3 characters/)
    })
  })
})
