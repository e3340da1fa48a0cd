/**
 * /admin endpoints: network faults, leadership transfer, log compaction, membership changes, shutdown. They can
 * cut a node off or stop it, so they need the cluster's token (`Authorization: Bearer <token>`), compared
 * in constant time.
 */
import crypto from 'node:crypto'
import type http from 'node:http'
import type {FaultsAnswer, FaultsByPeer, FaultsChanged, MembersAnswer, MembersRequest, ShutdownAnswer, SnapshotAnswer, TransferAnswer} from '../api/node-admin.js'
import type {NodeEvent} from '../api/node-events.js'
import type {PeerFault} from '../transport/fault-filter.js'
import {BrokerError} from './errors.js'
import {readJson, type HttpRoute} from './http-api.js'
import {parseMembersRequest} from './members-request.js'

export interface AdminTarget {
  /** The node ids of the member directory (peers the fault and transfer endpoints may name). */
  memberIds(): number[]
  changeMembership(request: MembersRequest): Promise<MembersAnswer>
  readonly self: number
  readonly transport: {faults: {set(peer: number, fault: PeerFault): void; clear(peer?: number): void; active(): Map<number, PeerFault>}}
  readonly driver: {transferLeadership(to: number): void; compactNow(trailing?: number): Promise<{index: number; term: number}>}
  readonly events: {publish(event: NodeEvent): void}
  stop(): Promise<void>
  diskBytes(): number
}

/** The largest `trailing` POST /admin/snapshot takes (as the node's --trailing-entries). */
const MAX_TRAILING = 100_000_000

/** `?trailing=N` of POST /admin/snapshot: a count, or undefined for the node's configured window. */
function trailingParam(request: http.IncomingMessage): number | undefined {
  const value = new URL(request.url ?? '/', 'http://node').searchParams.get('trailing')
  if (value === null) return undefined
  if (!/^\d{1,9}$/.test(value) || Number(value) > MAX_TRAILING) {
    throw new BrokerError('BAD_REQUEST', `trailing must be a whole number of entries from 0 to ${MAX_TRAILING}`)
  }
  return Number(value)
}

export function faultsView(target: AdminTarget): FaultsByPeer {
  return Object.fromEntries([...target.transport.faults.active()].map(([peer, fault]) => [String(peer), fault]))
}

export function adminRoutes(target: AdminTarget, token: string | null): HttpRoute[] {
  const guard =
    (handler: (request: http.IncomingMessage) => Promise<unknown> | unknown) =>
    (request: http.IncomingMessage): Promise<unknown> | unknown => {
      authorize(request, token)
      return handler(request)
    }
  const others = (): number[] => target.memberIds().filter((i) => i !== target.self)
  const peerList = (value: unknown): number[] => {
    const known = others()
    if (value === undefined) return known
    if (!Array.isArray(value) || value.some((p) => !known.includes(p as number))) {
      throw new BrokerError('BAD_REQUEST', `peers must be an array of member indexes among [${known.join(',')}], other than this node (${target.self})`)
    }
    return value as number[]
  }
  return [
    {method: 'GET', path: '/admin/faults', handler: guard((): FaultsAnswer => ({faults: faultsView(target)}))},
    {
      method: 'PUT',
      path: '/admin/faults',
      handler: guard(async (request): Promise<FaultsChanged> => {
        const body = await readJson(request, 64 * 1024)
        const fault = parseFault(body)
        const peers = peerList(body.peers)
        for (const peer of peers) target.transport.faults.set(peer, fault)
        target.events.publish({type: 'fault', action: 'set', peers, ...fault})
        return {ok: true, faults: faultsView(target)}
      }),
    },
    {
      method: 'DELETE',
      path: '/admin/faults',
      handler: guard((): FaultsChanged => {
        target.transport.faults.clear()
        target.events.publish({type: 'fault', action: 'heal'})
        return {ok: true, faults: {}}
      }),
    },
    {
      method: 'POST',
      path: '/admin/transfer-leader',
      handler: guard(async (request): Promise<TransferAnswer> => {
        const body = await readJson(request, 4096)
        const to = body.to
        const known = others()
        if (typeof to !== 'number' || !known.includes(to)) {
          throw new BrokerError('BAD_REQUEST', `"to" must be the index of another member (one of [${known.join(',')}])`)
        }
        target.driver.transferLeadership(to)
        return {ok: true, to}
      }),
    },
    {
      method: 'POST',
      path: '/admin/snapshot',
      handler: guard(async (request): Promise<SnapshotAnswer> => {
        const point = await target.driver.compactNow(trailingParam(request))
        return {ok: true, snapshot_index: point.index, snapshot_term: point.term, first_index: point.index + 1, disk_bytes: target.diskBytes()}
      }),
    },
    {
      method: 'POST',
      path: '/admin/members',
      handler: guard(async (request): Promise<MembersAnswer> => target.changeMembership(parseMembersRequest(await readJson(request, 4096)))),
    },
    {
      method: 'POST',
      path: '/admin/shutdown',
      handler: guard((): ShutdownAnswer => {
        setImmediate(() => void target.stop().finally(() => process.exit(0)))
        return {ok: true}
      }),
    },
  ]
}

function authorize(request: http.IncomingMessage, token: string | null): void {
  if (token === null) {
    throw new BrokerError('UNAUTHORIZED', 'the admin API is disabled: start the node with --token-file or PAD_TOKEN')
  }
  const header = request.headers.authorization ?? ''
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7).trim() : '')
  const expected = Buffer.from(token)
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    throw new BrokerError('UNAUTHORIZED', 'missing or wrong token: send Authorization: Bearer <cluster token>')
  }
}

function parseFault(body: Record<string, unknown>): PeerFault {
  const fault: PeerFault = {}
  const number = (key: string, min: number, max: number): number | undefined => {
    const value = body[key]
    if (value === undefined) return undefined
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      throw new BrokerError('BAD_REQUEST', `${key} must be a number from ${min} to ${max}`)
    }
    return value
  }
  if (body.drop !== undefined) {
    if (typeof body.drop !== 'boolean') throw new BrokerError('BAD_REQUEST', 'drop must be true or false')
    fault.drop = body.drop
  }
  fault.delayMs = number('delay_ms', 0, 60_000)
  fault.jitterMs = number('jitter_ms', 0, 60_000)
  fault.loss = number('loss', 0, 1)
  const forMs = number('for_ms', 1, 7 * 24 * 3600 * 1000)
  if (forMs !== undefined) fault.until = Date.now() + forMs
  if (!fault.drop && !fault.delayMs && !fault.jitterMs && !fault.loss) {
    throw new BrokerError('BAD_REQUEST', 'give at least one of drop, delay_ms, jitter_ms, loss')
  }
  for (const key of Object.keys(fault) as (keyof PeerFault)[]) if (fault[key] === undefined) delete fault[key]
  return fault
}
