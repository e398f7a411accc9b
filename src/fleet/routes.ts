/**
 * The fleet's HTTP routes: VaultMesh's agent ingestion (/api/agent/*), operator events
 * (/api/events) and the fleet queries (/api/fleet/*). Every accepted input is on the log
 * before it is acknowledged; the queries answer from the projector's state. Errors are
 * VaultMesh's `{"error": …}` with Vigil's code, hint and the offending field.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { assertActsForNode } from '../access/index.ts'
import { VigilError, isVigilError } from '../errors.ts'
import { toVigilError } from '../http/app.ts'
import type { Log } from '../log/types.ts'
import { attentionReasons } from './attention.ts'
import { eventKinds, secondPrecisionUtc, sortKeysDeep, type CommandResultRecord, type EventEnvelope, type EventKind, type FleetTopics, type HeartbeatRecord, type ScanRecord } from './records.ts'
import type { FleetState } from './state.ts'
import type { CommandPolicy } from './policy.ts'
import type { CommandWaiters } from './command-waiters.ts'
import type { SigningKeys } from './signing-keys.ts'
import { signCommand, type SignedCommand } from './signed-command.ts'
import type { SseHub } from './sse-hub.ts'
import { fieldOf, fleetValidatorCompiler } from './validation.ts'

export interface FleetRoutesRuntime {
  log: Log
  topics: FleetTopics
  state: FleetState
  policy: CommandPolicy
  keys: SigningKeys
  waiters: CommandWaiters
  limits: { defaultTtlS: number, maxTtlS: number, maxLongPollMs: number }
  onIngest: (kind: string) => void
  onCommandsIssued: (n: number) => void
  hub: SseHub
}

export interface FleetRoutesOptions {
  /** The running fleet once started; undefined before (routes answer 503). */
  fleet: () => FleetRoutesRuntime | undefined
}

const uuidPattern = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
const NodeId = Type.String({ pattern: uuidPattern, description: 'Node UUID.' })
const ok = Type.Object({ status: Type.Literal('ok') })

const HeartbeatBody = Type.Object({
  node_id: NodeId,
  hostname: Type.String({ minLength: 1, maxLength: 253 }),
  os_profile: Type.String({ minLength: 1, maxLength: 100 }),
  cloudflare_ok: Type.Boolean(),
  services_ok: Type.Boolean(),
  vaultmesh_root: Type.String({ maxLength: 4096 }),
  timestamp: Type.String({ format: 'date-time', description: 'RFC 3339.' }),
  uptime_seconds: Type.Optional(Type.Integer({ minimum: 0 })),
  load_avg: Type.Optional(Type.Array(Type.Number({ minimum: 0 }), { maxItems: 3 }))
})

const Count = Type.Integer({ minimum: 0 })
const ScanBody = Type.Object({
  node_id: NodeId,
  scan_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  ts: Type.String({ format: 'date-time' }),
  summary: Type.Object({ critical: Count, high: Count, medium: Count, low: Count }),
  findings_real: Type.Boolean({ description: 'false when the findings come from a mock scanner.' }),
  receipt_hash: Type.String({ minLength: 1, maxLength: 200 }),
  findings: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 10000 }))
})

const Digest = Type.String({ maxLength: 200 })
const CommandResultBody = Type.Object({
  node_id: NodeId,
  nonce: Type.String({ minLength: 1, maxLength: 200 }),
  command: Type.String({ minLength: 1, maxLength: 200 }),
  status: Type.Union([Type.Literal('success'), Type.Literal('failed'), Type.Literal('refused')]),
  exit_code: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  stdout_digest: Type.Optional(Digest),
  stderr_digest: Type.Optional(Digest),
  reason: Type.Optional(Type.String({ maxLength: 2000 })),
  started_at: Type.Optional(Type.String({ format: 'date-time' })),
  finished_at: Type.Optional(Type.String({ format: 'date-time' }))
})

const EventBody = Type.Object({
  kind: Type.Union(eventKinds.map(k => Type.Literal(k))),
  node_id: Type.Optional(Type.Union([NodeId, Type.Null()])),
  payload: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  body: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
})

const CommandsQuery = Type.Object({
  node_id: NodeId,
  wait_ms: Type.Integer({ minimum: 0, maximum: 300000, default: 0, description: 'Long-poll: wait up to this long for a command (at most fleet.maxLongPollMs).' })
}, { additionalProperties: false })

const CommandRequest = Type.Object({
  node_id: Type.Optional(NodeId),
  os_profile: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  command: Type.String({ minLength: 1, maxLength: 100 }),
  args: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  ttl_s: Type.Optional(Type.Integer({ minimum: 1 }))
})

const StreamQuery = Type.Object({
  node_id: Type.Optional(NodeId),
  kind: Type.Optional(Type.String({ maxLength: 500, description: 'Comma-separated event names (heartbeat, scan, command, attention, note, incident, ack, tag, resolve).' })),
  attention: Type.Optional(Type.Boolean({ description: 'true: attention events only.' })),
  last_event_id: Type.Optional(Type.String({ maxLength: 200, description: 'As the Last-Event-ID header, for clients that cannot set it.' }))
}, { additionalProperties: false })

const streamNames = new Set(['heartbeat', 'scan', 'command', 'attention', ...eventKinds])

const EventsQuery = Type.Object({
  since: Type.Optional(Type.String({ format: 'date-time' })),
  kind: Type.Optional(Type.String({ maxLength: 200, description: 'Comma-separated kinds.' })),
  node_id: Type.Optional(NodeId),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 })
}, { additionalProperties: false })

const NodesQuery = Type.Object({
  profile: Type.Optional(Type.String({ maxLength: 100 })),
  reason: Type.Optional(Type.Union(attentionReasons.map(r => Type.Literal(r)))),
  state: Type.Optional(Type.Union([Type.Literal('healthy'), Type.Literal('attention')])),
  q: Type.Optional(Type.String({ maxLength: 253 })),
  sort: Type.Optional(Type.Union([Type.Literal('hostname'), Type.Literal('last_seen'), Type.Literal('os_profile'), Type.Literal('attention')])),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
  offset: Type.Integer({ minimum: 0, default: 0 }),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 })
}, { additionalProperties: false })

export async function fleetRoutes (app: FastifyInstance, options: FleetRoutesOptions): Promise<void> {
  const running = () => {
    const fleet = options.fleet()
    if (fleet === undefined) throw new VigilError('VGL_FLEET_NOT_READY', 'the fleet projector is not running', {})
    return fleet
  }

  // Streams and long-polls would hold app.close() open: end them first.
  app.addHook('preClose', async () => {
    const fleet = options.fleet()
    fleet?.hub.close()
    fleet?.waiters.releaseAll()
  })

  app.setValidatorCompiler(fleetValidatorCompiler)
  app.setErrorHandler((error: FastifyError, request, reply) => sendFleetError(error, request, reply))

  /** Puts one record on its topic, keyed by node, and resolves once it is durable. */
  const append = async (kind: keyof FleetTopics, nodeId: string | null, value: object): Promise<void> => {
    const fleet = running()
    await fleet.log.produce(fleet.topics[kind], [{ key: nodeId === null ? null : Buffer.from(nodeId), value: Buffer.from(JSON.stringify(value)) }])
    fleet.onIngest(kind)
  }

  app.post('/api/agent/heartbeat', {
    config: { access: 'agent' },
    bodyLimit: 64 * 1024,
    schema: { tags: ['fleet'], summary: 'A node agent\'s heartbeat (VaultMesh\'s body); an unknown node registers itself.', body: HeartbeatBody, response: { 200: ok } }
  }, async (request) => {
    const b = request.body as HeartbeatRecord
    assertActsForNode(request, b.node_id)
    const record: HeartbeatRecord = {
      node_id: b.node_id.toLowerCase(),
      hostname: b.hostname,
      os_profile: b.os_profile,
      cloudflare_ok: b.cloudflare_ok,
      services_ok: b.services_ok,
      vaultmesh_root: b.vaultmesh_root,
      timestamp: b.timestamp,
      ...(b.uptime_seconds === undefined ? {} : { uptime_seconds: b.uptime_seconds }),
      ...(b.load_avg === undefined ? {} : { load_avg: b.load_avg })
    }
    await append('heartbeat', record.node_id, record)
    return { status: 'ok' as const }
  })

  app.post('/api/agent/scan', {
    config: { access: 'agent' },
    bodyLimit: 1024 * 1024,
    schema: { tags: ['fleet'], summary: 'A node\'s scan result: severity summary, findings, real-versus-mock flag, receipt hash.', body: ScanBody, response: { 200: ok } }
  }, async (request) => {
    const b = request.body as ScanRecord
    assertActsForNode(request, b.node_id)
    const record: ScanRecord = { ...b, node_id: b.node_id.toLowerCase(), summary: { critical: b.summary.critical, high: b.summary.high, medium: b.summary.medium, low: b.summary.low } }
    await append('scan', record.node_id, record)
    return { status: 'ok' as const }
  })

  app.post('/api/agent/command-result', {
    config: { access: 'agent' },
    bodyLimit: 64 * 1024,
    schema: { tags: ['fleet'], summary: 'The outcome of a command on a node (run, failed or refused with the reason).', body: CommandResultBody, response: { 200: ok } }
  }, async (request) => {
    const b = request.body as CommandResultRecord
    assertActsForNode(request, b.node_id)
    const record: CommandResultRecord = { ...b, node_id: b.node_id.toLowerCase() }
    await append('command-result', record.node_id, record)
    return { status: 'ok' as const }
  })

  app.post('/api/events', {
    config: { access: 'operator' },
    bodyLimit: 256 * 1024,
    schema: { tags: ['fleet'], summary: 'An operator event (note, incident, ack, tag, resolve); `body` is an alias of `payload`; X-VM-Author names the author. Answers the stored envelope.', body: EventBody }
  }, async (request) => {
    const b = request.body as { kind: EventKind, node_id?: string | null, payload?: Record<string, unknown>, body?: Record<string, unknown> }
    const author = request.headers['x-vm-author']
    if (Array.isArray(author) || (author !== undefined && author.length > 200)) throw invalid('X-VM-Author must be one header of at most 200 characters', 'X-VM-Author')
    const envelope: EventEnvelope = {
      id: randomUUID(),
      kind: b.kind,
      ts: secondPrecisionUtc(Date.now()),
      node_id: b.node_id === undefined || b.node_id === null ? null : b.node_id.toLowerCase(),
      author: author ?? null,
      payload: sortKeysDeep(b.payload ?? b.body ?? {}) as Record<string, unknown>
    }
    await append('event', envelope.node_id, envelope)
    return envelope
  })

  app.get('/api/events', {
    config: { access: 'viewer' },
    schema: { tags: ['fleet'], summary: 'Recent operator events, newest first (since, comma-separated kind, node_id, limit ≤ 1000, default 100).', querystring: EventsQuery }
  }, async (request) => {
    const q = request.query as { since?: string, kind?: string, node_id?: string, limit: number }
    let kinds: string[] | undefined
    if (q.kind !== undefined) {
      kinds = q.kind.split(',').map(k => k.trim()).filter(k => k !== '')
      const unknown = kinds.find(k => !(eventKinds as readonly string[]).includes(k))
      if (unknown !== undefined) throw invalid(`kind "${unknown}" is not one of ${eventKinds.join(', ')}`, 'kind')
    }
    return { events: running().state.events({ ...(q.since === undefined ? {} : { since: Date.parse(q.since) }), ...(kinds === undefined ? {} : { kinds }), ...(q.node_id === undefined ? {} : { nodeId: q.node_id.toLowerCase() }), limit: q.limit }) }
  })

  app.get('/api/agent/commands', {
    config: { access: 'agent' },
    schema: { tags: ['fleet'], summary: 'The node\'s pending signed commands; with wait_ms, waits (long-poll) until one is there or wait_ms has passed, then answers an empty list.', querystring: CommandsQuery }
  }, async (request, reply) => {
    const q = request.query as { node_id: string, wait_ms: number }
    assertActsForNode(request, q.node_id)
    const fleet = running()
    const nodeId = q.node_id.toLowerCase()
    let commands = fleet.state.pendingCommands(nodeId, Date.now())
    if (commands.length === 0 && q.wait_ms > 0) {
      const gone = new AbortController()
      const onClose = (): void => gone.abort()
      reply.raw.once('close', onClose)
      await fleet.waiters.wait(nodeId, Math.min(q.wait_ms, fleet.limits.maxLongPollMs), gone.signal)
      reply.raw.off('close', onClose)
      commands = options.fleet()?.state.pendingCommands(nodeId, Date.now()) ?? []
    }
    return { commands }
  })

  app.get('/api/fleet/policy', {
    config: { access: 'viewer' },
    schema: { tags: ['fleet'], summary: 'The command policy per os_profile: allowed commands and the JSON Schema of their arguments ("*" for profiles not named).' }
  }, async () => ({ profiles: running().policy.config }))

  app.get('/api/fleet/public-keys', {
    config: { access: 'viewer' },
    schema: { tags: ['fleet'], summary: 'The Ed25519 public keys that sign commands (the first signs; the others are kept for rotation), for agents to pin.' }
  }, async () => {
    const keys = running().keys
    return { keys: keys.all.map(k => ({ key_id: k.keyId, public_key_pem: k.publicKeyPem, active: k === keys.active })) }
  })

  app.post('/api/fleet/commands', {
    config: { access: 'operator' },
    bodyLimit: 64 * 1024,
    schema: { tags: ['fleet'], summary: 'Issue a signed command to one node (node_id) or every node of a profile (os_profile), after the profile\'s policy allows the command and its arguments.', body: CommandRequest }
  }, async (request) => {
    const b = request.body as { node_id?: string, os_profile?: string, command: string, args?: Record<string, unknown>, ttl_s?: number }
    const fleet = running()
    if ((b.node_id === undefined) === (b.os_profile === undefined)) throw invalid('give exactly one of node_id and os_profile', b.node_id === undefined ? 'node_id' : 'os_profile')
    const ttlS = b.ttl_s ?? fleet.limits.defaultTtlS
    if (ttlS > fleet.limits.maxTtlS) throw invalid(`ttl_s ${ttlS} is above fleet.signing.maxTtlS (${fleet.limits.maxTtlS})`, 'ttl_s')
    const targets = b.node_id !== undefined ? [b.node_id.toLowerCase()] : fleet.state.nodeIdsOfProfile(b.os_profile!)
    if (targets.length === 0) throw new VigilError('VGL_FLEET_NODE_NOT_FOUND', `no node has os_profile ${b.os_profile!}`, { field: 'os_profile' })
    const args = b.args ?? {}
    const now = Date.now()
    const commands: SignedCommand[] = []
    for (const nodeId of targets) {
      const node = fleet.state.node(nodeId)
      if (node === undefined) throw new VigilError('VGL_FLEET_NODE_NOT_FOUND', `no node ${nodeId}`, { field: 'node_id' })
      const verdict = fleet.policy.check(node.heartbeat!.os_profile, b.command, args)
      if (!verdict.ok) throw new VigilError('VGL_FLEET_COMMAND_REFUSED', verdict.message, { field: verdict.field })
      commands.push(signCommand({
        node_id: nodeId,
        command: b.command,
        args,
        nonce: randomBytes(16).toString('hex'),
        issued_at: new Date(now).toISOString(),
        expires_at: new Date(now + ttlS * 1000).toISOString(),
        key_id: fleet.keys.active.keyId
      }, fleet.keys.active.privateKey))
    }
    await fleet.log.produce(fleet.topics.command, commands.map(c => ({ key: Buffer.from(c.node_id), value: Buffer.from(JSON.stringify(c)) })))
    fleet.onCommandsIssued(commands.length)
    return { commands }
  })

  app.get('/api/stream', {
    config: { access: 'viewer' },
    schema: { tags: ['fleet'], summary: 'Server-Sent Events: heartbeat, scan, command, attention and each operator event\'s kind; id = log position; Last-Event-ID resumes; a slow client is cut off (event cutoff) to resume.', querystring: StreamQuery }
  }, async (request, reply) => {
    const q = request.query as { node_id?: string, kind?: string, attention?: boolean, last_event_id?: string }
    let names: Set<string> | undefined
    if (q.kind !== undefined) {
      names = new Set(q.kind.split(',').map(k => k.trim()).filter(k => k !== ''))
      const unknown = [...names].find(n => !streamNames.has(n))
      if (unknown !== undefined) throw invalid(`kind "${unknown}" is not one of ${[...streamNames].join(', ')}`, 'kind')
    }
    const header = request.headers['last-event-id']
    const lastEventId = typeof header === 'string' ? header : q.last_event_id
    const fleet = running()
    reply.hijack()
    fleet.hub.attach(reply.raw, { ...(q.node_id === undefined ? {} : { nodeId: q.node_id.toLowerCase() }), ...(names === undefined ? {} : { names }), attentionOnly: q.attention === true }, lastEventId)
  })

  app.get('/api/fleet/summary', {
    config: { access: 'viewer' },
    schema: { tags: ['fleet'], summary: 'Nodes in total, healthy, needing attention, by reason and by profile.' }
  }, async () => running().state.summary())

  app.get('/api/fleet/nodes', {
    config: { access: 'viewer' },
    schema: { tags: ['fleet'], summary: 'Nodes, filtered (profile, reason, state, q), sorted and paged.', querystring: NodesQuery }
  }, async (request) => running().state.nodes(request.query as never))

  app.get('/api/fleet/nodes/:node_id', {
    config: { access: 'viewer' },
    schema: { tags: ['fleet'], summary: 'One node: summary, last heartbeat and scan, recent events, command history, open incidents with their DORA deadlines.', params: Type.Object({ node_id: NodeId }) }
  }, async (request) => {
    const nodeId = (request.params as { node_id: string }).node_id.toLowerCase()
    const detail = running().state.detail(nodeId, Date.now())
    if (detail === undefined) throw new VigilError('VGL_FLEET_NODE_NOT_FOUND', `no node ${nodeId}`, { field: 'node_id' })
    return detail
  })
}

function invalid (message: string, field: string): VigilError {
  return new VigilError('VGL_FLEET_INPUT_INVALID', message, { field })
}

function sendFleetError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let coded: VigilError
  if (!isVigilError(error) && error.validation !== undefined && error.validation.length > 0) {
    const first = error.validation[0]!
    const where = error.validationContext === 'querystring' ? 'query' : error.validationContext ?? 'body'
    const field = fieldOf(first)
    coded = invalid(`${where}${field === '' ? '' : ` field ${field}`}: ${first.message ?? 'is invalid'}`, field === '' ? where : field)
  } else if (!isVigilError(error) && error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    coded = invalid(`body is not valid JSON: ${error.message}`, 'body')
  } else if (!isVigilError(error) && error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    coded = invalid('body is empty', 'body')
  } else {
    coded = toVigilError(error)
  }
  if (coded.statusCode >= 500 && coded.code !== 'VGL_FLEET_NOT_READY') request.log.error({ err: coded.cause ?? error, code: coded.code, url: request.url }, coded.message)
  const { field } = coded.context as { field?: string }
  return reply.code(coded.statusCode).send({ error: coded.message, code: coded.code, hint: coded.hint, ...(field === undefined ? {} : { field }) })
}
