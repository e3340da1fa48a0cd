/**
 * The cluster's secret as `pad-cli node` is given it: `--token-file` (what `pad-cli up` writes,
 * mode 0600) or `PAD_TOKEN`. A token that is given but empty, blank or short is refused at
 * start: an empty one would let every request through (two empty strings compare equal).
 */
import fs from 'node:fs'
import {MIN_TOKEN_CHARS} from '../broker/limits.js'

export class TokenError extends Error {}

/** The token, null when none was given; throws TokenError for one that cannot be used. */
export function readNodeToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  let token: string
  let source: string
  if (tokenFile !== undefined) {
    source = `--token-file ${tokenFile}`
    try {
      token = fs.readFileSync(tokenFile, 'utf8')
    } catch (error) {
      throw new TokenError(`cannot read --token-file: ${(error as Error).message}`)
    }
  } else if (env.PAD_TOKEN !== undefined) {
    source = 'PAD_TOKEN'
    token = env.PAD_TOKEN
  } else {
    return null
  }
  token = token.trim()
  if (token === '') throw new TokenError(`the token in ${source} is empty: give at least ${MIN_TOKEN_CHARS} characters`)
  if (token.length < MIN_TOKEN_CHARS) {
    throw new TokenError(`the token in ${source} has ${token.length} characters: give at least ${MIN_TOKEN_CHARS}`)
  }
  if (/\s/.test(token)) throw new TokenError(`the token in ${source} contains white space: give one word of at least ${MIN_TOKEN_CHARS} characters`)
  return token
}
