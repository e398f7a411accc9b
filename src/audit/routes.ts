/**
 * CAIPE's audit-service routes, mounted at the root of `vigil serve` (`/v1/audit/...`). They keep
 * CAIPE's response shapes, which its producers and UI depend on: errors are `{"detail": …}`
 * (Vigil adds `code` and `hint`), a full queue is 503 `{"detail":"audit queue full"}`, a bad
 * limit is FastAPI's 422 list. This plugin is encapsulated, so its error handler applies only
 * to these routes.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify'
import { isVigilError, VigilError } from '../errors.ts'
import type { AuditService } from './service.ts'

export interface AuditRoutesOptions {
  /** The service once started; undefined before (routes answer 503). */
  service: () => AuditService | undefined
}

export async function auditRoutes (app: FastifyInstance, options: AuditRoutesOptions): Promise<void> {
  const ready = (): AuditService => {
    const service = options.service()
    if (service === undefined || !service.started) throw new VigilError('VGL_AUDIT_NOT_READY', 'audit service is not running', {})
    return service
  }

  // Plain JSON.parse for these routes (a third faster than the default parser on 500-event
  // batches); the one dangerous key, __proto__, is refused by normaliseEvents. Malformed JSON is
  // FastAPI's 422 json_invalid, as CAIPE answers it.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string))
    } catch (error) {
      done(error as VigilError, undefined)
    }
  })
  // Any other content type, or none: FastAPI does not parse the body as JSON, so CAIPE's payload
  // check sees bytes and answers 400 "expected an event object…" (checked against CAIPE's app
  // with FastAPI 0.165); an empty body is still 422 missing. Fastify would answer 415.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    done(null, body === '' ? undefined : new NotJsonBody())
  })

  app.setErrorHandler((error: FastifyError, request, reply) => sendDetail(error, reply, (e) => request.log.error({ err: e, url: request.url }, 'audit route failed')))

  app.post('/v1/audit/events', {
    config: { access: 'producer' },
    schema: { tags: ['audit'], summary: 'Ingest audit events (an object, an array, or {"events": [...]}); 202 once durable on the log.' }
  }, async (request, reply) => {
    const service = options.service()
    if (service === undefined || !service.started) {
      // CAIPE answers a stopping service like a full queue.
      throw new VigilError('VGL_AUDIT_QUEUE_FULL', 'audit queue full', {})
    }
    const body = request.body
    if (body === undefined || body === null || body === '') {
      // FastAPI's `Body(...)` with nothing sent (CAIPE: 422 missing).
      throw new VigilError('VGL_AUDIT_BODY_INVALID', 'the request has no body', { validation: { type: 'missing', loc: ['body'], msg: 'Field required', input: null } })
    }
    if (body instanceof NotJsonBody) throw new VigilError('VGL_AUDIT_PAYLOAD_INVALID', 'expected an event object, event array, or {events: [...]} (the body is not application/json)', {})
    const result = await service.ingest(body)
    return reply.code(202).send(result)
  })

  app.get('/v1/audit/events', {
    config: { access: 'viewer' },
    schema: { tags: ['audit'], summary: 'Query audit records, newest first: since/from, until/to, window, limit, time_resolution, cursor and CAIPE\'s filters.' }
  }, async (request) => ready().query(request.query as Record<string, string | undefined>))

  app.get('/v1/audit/status', { config: { access: 'viewer' }, schema: { tags: ['audit'], summary: 'CAIPE\'s status fields (queue = the archiver backlog).' } },
    async () => ready().status())

  app.get('/v1/audit/healthz', { config: { access: 'public' }, schema: { tags: ['audit'], summary: 'CAIPE\'s /healthz: always {"status":"ok"}.' } },
    async () => ({ status: 'ok' }))

  app.get('/v1/audit/readyz', { config: { access: 'viewer' }, schema: { tags: ['audit'], summary: 'CAIPE\'s /readyz: 503 "storage unavailable" or "audit worker is not running", else 200 {"status":"ready", ...status}.' } },
    async (_request, reply) => {
      const service = options.service()
      if (service === undefined || !service.started) return reply.code(503).send({ detail: 'audit worker is not running' })
      const problem = await service.readinessProblem()
      if (problem !== null) return reply.code(503).send({ detail: problem })
      return { status: 'ready', ...await service.status() }
    })

  app.get('/v1/audit/verbosity', { config: { access: 'viewer' }, schema: { tags: ['audit'], summary: 'The verbosity preset and the types it keeps.' } },
    async () => ready().verbosityInfo())

  app.get('/v1/audit/storage', { config: { access: 'viewer' }, schema: { tags: ['audit'], summary: 'Storage health (and S3 usage, counting at most 10 000 objects).' } },
    async () => ready().storage())

  app.get('/v1/audit/retention', { config: { access: 'viewer' }, schema: { tags: ['audit'], summary: 'Retention: local days, or the S3 lifecycle rule.' } },
    async () => ready().retentionInfo())

  app.put('/v1/audit/retention', { config: { access: 'admin' }, schema: { tags: ['audit'], summary: 'S3 only: {"days": N} sets the lifecycle rule caipe-audit-retention (0 removes it).' } },
    async (request) => ready().setRetention(request.body))

  app.get('/v1/audit/verify', {
    config: { access: 'operator' },
    schema: { tags: ['audit'], summary: 'Verify the stored records of a range (since, until; default: all): modified, missing, inserted or reordered records with their file and position.' }
  }, async (request) => {
    const query = request.query as Record<string, string | undefined>
    const reports = await ready().verify({ since: query.since ?? query.from, until: query.until ?? query.to })
    return { ok: reports.every(r => r.ok), reports }
  })

  app.get('/v1/audit/checkpoints/public-key', { config: { access: 'viewer' }, schema: { tags: ['audit'], summary: 'The Ed25519 public key (PEM) that checks the signed checkpoints.' } },
    async (_request, reply) => {
      const key = ready().signingKey
      return reply.type('application/x-pem-file').header('x-vigil-key-id', key.keyId).send(key.publicKeyPem)
    })
}

/** A body that is not JSON: CAIPE's payload check refuses it (400), unlike a malformed JSON body (422). */
class NotJsonBody {}

/** JSON.parse (undefined for an empty body); throws FastAPI's json_invalid as a VigilError (422, with the position). */
function parseJsonBody (text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text)
  } catch (error) {
    const message = (error as Error).message
    const at = /position (\d+)/.exec(message)
    throw new VigilError('VGL_AUDIT_BODY_INVALID', `body is not valid JSON: ${message}`, {
      validation: { type: 'json_invalid', loc: ['body', at === null ? 0 : Number(at[1])], msg: 'JSON decode error', input: {}, ctx: { error: message } }
    })
  }
}

function sendDetail (error: unknown, reply: FastifyReply, logUnexpected: (e: unknown) => void): FastifyReply {
  if (isVigilError(error)) {
    const { validation } = error.context as { validation?: Record<string, unknown> }
    if (validation !== undefined) {
      // FastAPI's validation shape (a list under detail), which CAIPE's clients get for a bad
      // limit or a malformed or missing body.
      return reply.code(error.statusCode).send({ detail: [validation], code: error.code, hint: error.hint })
    }
    if (error.statusCode >= 500 && error.code !== 'VGL_AUDIT_QUEUE_FULL' && error.code !== 'VGL_AUDIT_NOT_READY') logUnexpected(error)
    const { errors, index, field, retryAfterSeconds } = error.context as { errors?: unknown, index?: unknown, field?: unknown, retryAfterSeconds?: unknown }
    if (typeof retryAfterSeconds === 'number') reply.header('retry-after', String(retryAfterSeconds))
    return reply.code(error.statusCode).send({
      detail: error.message,
      code: error.code,
      hint: error.hint,
      ...(index === undefined ? {} : { index }),
      ...(field === undefined ? {} : { field }),
      ...(errors === undefined ? {} : { errors })
    })
  }
  const e = error as FastifyError
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ detail: e.message, code: 'VGL_HTTP_PAYLOAD_TOO_LARGE' })
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return reply.code(e.statusCode).send({ detail: e.message, code: e.statusCode === 401 ? 'VGL_HTTP_UNAUTHORIZED' : 'VGL_HTTP_BAD_REQUEST' })
  }
  logUnexpected(error)
  return reply.code(500).send({ detail: 'internal error', code: 'VGL_HTTP_INTERNAL' })
}
