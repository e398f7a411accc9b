/**
 * The one HTTP app of `vigil serve`: health, readiness, metrics, OpenAPI, token auth and one
 * error shape for every route. Feature areas (schema registry, audit, pipelines …) add their
 * routes as Fastify plugins through `AppOptions.plugins`.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify'
import swagger from '@fastify/swagger'
import type { VigilConfig } from '../config/schema.ts'
import { VigilError, isVigilError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import { roles } from './roles.ts'

export interface Readiness {
  /** Each named check: null when fine, else why it is not. */
  check (): Promise<Record<string, string | null>>
}

export interface AppPlugin {
  plugin: FastifyPluginAsync<Record<string, unknown>>
  options?: Record<string, unknown>
  /** Routes under this prefix. */
  prefix?: string
}

export interface AppOptions {
  config: Readonly<VigilConfig>
  logger: Logger
  metrics: Metrics
  readiness: Readiness
  plugins?: AppPlugin[]
}

/** Paths anyone may call: orchestrators probe them without credentials. */
const publicPaths = new Set(['/healthz', '/readyz'])

export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const { config, logger, metrics, readiness } = options
  const app = Fastify({
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request lines come from the features that know what a request means (e.g. one line per event batch).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.bodyLimitBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle'
  })

  await app.register(swagger, {
    openapi: {
      info: { title: 'Vigil', version: '0.1.0', description: 'Vigil\'s HTTP API.' },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
      security: [{ token: [] }]
    }
  })

  const tokenDigests = config.server.apiTokens.map(digest)
  app.addHook('onRequest', async (request) => {
    if (tokenDigests.length === 0 || publicPaths.has(request.url.split('?')[0] ?? '')) return
    // Routes that declare access 'public' (the console's static files, which hold no data).
    if (request.routeOptions.config?.access === 'public') return
    const presented = tokenOf(request)
    if (presented === undefined || !tokenDigests.some(d => timingSafeEqual(d, digest(presented)))) {
      throw new VigilError('VGL_HTTP_UNAUTHORIZED', 'missing or invalid API token', {})
    }
  })

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    metrics.httpRequests.inc({ method: request.method, route, status: reply.statusCode })
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000)
  })

  app.setErrorHandler((error: FastifyError, request, reply) => sendError(toVigilError(error), request, reply))
  app.setNotFoundHandler((request, reply) =>
    sendError(new VigilError('VGL_HTTP_NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`), request, reply))

  app.get('/healthz', {
    schema: { tags: ['health'], summary: 'Liveness: the process answers.', security: [] }
  }, async () => ({ status: 'ok' }))

  app.get('/readyz', {
    schema: { tags: ['health'], summary: 'Readiness: 200 once every dependency (the log …) answers, 503 before.', security: [] }
  }, async (_request, reply) => {
    const checks = await readiness.check()
    const ready = Object.values(checks).every(problem => problem === null)
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks })
  })

  app.get('/metrics', {
    schema: { tags: ['health'], summary: 'Prometheus metrics.' }
  }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  app.get('/v1/access/whoami', {
    config: { access: 'viewer' },
    schema: { tags: ['access'], summary: 'The principal the request\'s credentials belong to, and its roles.' }
  }, async (request) => request.principal ?? { name: 'anonymous', roles: [...roles] })

  for (const { plugin, options: pluginOptions, prefix } of options.plugins ?? []) {
    await app.register(plugin, { ...pluginOptions, ...(prefix === undefined ? {} : { prefix }) })
  }
  return app
}

/** Turns any error reaching the HTTP layer into a coded one; unexpected errors become 500s that are logged. */
export function toVigilError (error: unknown): VigilError {
  if (isVigilError(error)) return error
  const e = error as FastifyError
  if (e.validation !== undefined) {
    return new VigilError('VGL_HTTP_BAD_REQUEST', `invalid request: ${e.message}`, { fields: e.validation.map(v => v.instancePath || (v.params as { missingProperty?: string }).missingProperty) })
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new VigilError('VGL_HTTP_PAYLOAD_TOO_LARGE', e.message)
  }
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new VigilError('VGL_HTTP_BAD_REQUEST', 'unsupported content-type for this route', { statusCode: 415, hint: 'Send the body as application/json.' })
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // Malformed JSON, unsupported media type, empty body …: Fastify's message names the problem.
    return new VigilError('VGL_HTTP_BAD_REQUEST', e.message, { statusCode: e.statusCode, cause: error })
  }
  return new VigilError('VGL_HTTP_INTERNAL', 'internal error', { cause: error })
}

function sendError (error: VigilError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = error.statusCode
  if (status >= 500) request.log.error({ err: error.cause ?? error, code: error.code, url: request.url }, error.message)
  return reply.code(status).send({ statusCode: status, code: error.code, message: error.message, hint: error.hint, ...error.context })
}

function tokenOf (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const [scheme, value] = header.split(' ', 2)
  if (value === undefined) return undefined
  if (scheme?.toLowerCase() === 'bearer') return value
  if (scheme?.toLowerCase() === 'basic') {
    // Schema registry clients only speak Basic auth: the token is the password, any user name.
    const decoded = Buffer.from(value, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    return colon === -1 ? undefined : decoded.slice(colon + 1)
  }
  return undefined
}

function digest (token: string): Buffer {
  return createHash('sha256').update(token).digest()
}
