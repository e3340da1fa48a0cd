/**
 * A client command's failure as the user reads it: a refusal of the node keeps its protocol
 * code ("BAD_REQUEST: body is not valid JSON"); a connection failure says it in words already.
 */
import {ClientError} from '../client/broker-client.js'

export function clientErrorText(error: unknown): string {
  if (error instanceof ClientError && error.code !== 'CONNECTION') return `${error.code}: ${error.message}`
  return error instanceof Error ? error.message : String(error)
}
