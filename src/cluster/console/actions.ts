/**
 * What the page's buttons and forms do: a control request goes through the supervisor's own
 * handlers (the ones the Unix socket serves: decodeControlRequest, then runControl), limited
 * to the console's ops; a publish goes to the leader's POST /publish (or, without a known
 * leader, any running node, which forwards it).
 */
import {commandLine, isConsoleOp, type ConsoleControlAnswer, type ConsoleNode, type ConsolePublishAnswer} from '../../api/console.js'
import {decodeControlRequest, type ControlHandlers} from '../../api/control.js'
import {requestJson} from '../../client/node-http-client.js'
import {runControl} from '../control.js'
import {DEFAULT_CLUSTER} from '../layout.js'
import {HttpRefusal} from './http-guards.js'

const PUBLISH_TIMEOUT_MS = 5000

/** Runs a control request given as the body of POST /api/control; a request that does not decode is a 400. */
export async function consoleControl(body: Record<string, unknown>, handlers: Partial<ControlHandlers>, cluster: string): Promise<ConsoleControlAnswer> {
  const decoded = decodeControlRequest(JSON.stringify(body))
  if (!decoded.ok) throw new HttpRefusal(400, 'BAD_ARGUMENT', decoded.message)
  const request = decoded.value
  if (!isConsoleOp(request.op)) throw new HttpRefusal(400, 'BAD_ARGUMENT', `the console does not send "${request.op}": use pad-cli ${request.op}`)
  const command = commandLine(request, cluster === DEFAULT_CLUSTER ? null : cluster)
  const outcome = await runControl(request, handlers)
  return {...outcome, command} as ConsoleControlAnswer
}

/** Publishes `message` (JSON when it parses, else RAW text) to `topic` through the leader or any running node. */
export async function consolePublish(body: Record<string, unknown>, nodes: ConsoleNode[], leader: number | null): Promise<ConsolePublishAnswer> {
  const {topic, message} = body
  // The node checks the topic's characters and length (and says what is wrong); here only its type.
  if (typeof topic !== 'string' || topic.length === 0) throw new HttpRefusal(400, 'BAD_ARGUMENT', 'topic must be a non-empty string')
  if (typeof message !== 'string') throw new HttpRefusal(400, 'BAD_ARGUMENT', 'message must be a string')
  const target = (leader === null ? undefined : nodes[leader]) ?? nodes.find((n) => n.process === 'running' && n.membership !== 'removed')
  if (!target || target.process !== 'running') return {ok: false, error: {code: 'NO_NODE', message: 'no node is running'}}
  const format = isJson(message) ? 'JSON' : 'RAW'
  try {
    const answer = await requestJson(target, 'POST', '/publish', {body: {topic, format, body: message}, timeoutMs: PUBLISH_TIMEOUT_MS})
    const json = answer.json as {offset?: unknown; index?: unknown; term?: unknown; error?: {code?: unknown; message?: unknown}}
    if (answer.status >= 200 && answer.status < 300 && typeof json.offset === 'number') {
      return {ok: true, topic, offset: json.offset, index: Number(json.index), term: Number(json.term), via: target.index}
    }
    return {ok: false, error: {code: String(json.error?.code ?? `HTTP_${answer.status}`), message: String(json.error?.message ?? `node ${target.index} answered ${answer.status}`)}}
  } catch (error) {
    return {ok: false, error: {code: 'NODE_API', message: (error as Error).message}}
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
