/**
 * The one HTTP app of `vigil serve`: health, readiness, metrics, OpenAPI, token auth and one
 * error shape for every route. Feature areas (schema registry, audit, pipelines …) add their
 * routes as Fastify plugins through `AppOptions.plugins`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify'
import swagger from '@fastify/swagger'
import type { VigilConfig } from '../config/schema.ts'
import { VigilError, isVigilError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Server as HttpsServer } from 'node:https'
import { createAccessControl, httpsOptions, rolesSatisfying, tlsEnabled, watchCertificates, type AccessControl } from '../access/index.ts'

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
  /** Who may call what; by default built from config (vigil serve passes its own to start and stop it). */
  access?: AccessControl
}

export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const { config, logger, metrics, readiness } = options
  const https = tlsEnabled(config.server.tls) ? httpsOptions(config.server.tls) : undefined
  const app = Fastify({
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request lines come from the features that know what a request means (e.g. one line per event batch).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.bodyLimitBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ...(https === undefined ? {} : { https })
  }) as unknown as FastifyInstance
  if (https !== undefined) {
    const stopWatching = watchCertificates(app.server as unknown as HttpsServer, config.server.tls, logger.child({ component: 'tls' }))
    app.addHook('onClose', async () => stopWatching())
  }

  await app.register(swagger, {
    openapi: {
      info: { title: 'Vigil', version: '0.1.0', description: 'Vigil\'s HTTP API.' },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' }, basic: { type: 'http', scheme: 'basic', description: 'The token as the password, any user name (registry and CAIPE clients).' } } },
      security: [{ token: [] }, { basic: [] }]
    },
    // Each operation states who may call it, so clients and the route-walk test read it from the document.
    transform: ({ schema, url, route }) => {
      const access = route.config?.access
      if (access === undefined) return { schema, url }
      const who = access === 'public' ? 'no credentials' : access === 'authenticated' ? 'any principal' : `roles: ${rolesSatisfying(access).join(', ')}`
      const description = [schema?.description, `Access: ${access} (${who}).`].filter(Boolean).join('\n\n')
      return { schema: { ...schema, description, 'x-vigil-access': access, ...(access === 'public' ? { security: [] } : {}) } as typeof schema, url }
    }
  })

  await (options.access ?? createAccessControl({ config, logger })).install(app)

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    metrics.httpRequests.inc({ method: request.method, route, status: reply.statusCode })
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000)
  })

  app.setErrorHandler((error: FastifyError, request, reply) => sendError(toVigilError(error), request, reply))
  app.setNotFoundHandler((request, reply) =>
    sendError(new VigilError('VGL_HTTP_NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`), request, reply))

  app.get('/healthz', {
    config: { access: 'public' },
    schema: { tags: ['health'], summary: 'Liveness: the process answers.' }
  }, async () => ({ status: 'ok' }))

  app.get('/readyz', {
    config: { access: 'public' },
    schema: { tags: ['health'], summary: 'Readiness: 200 once every dependency (the log …) answers, 503 before.' }
  }, async (_request, reply) => {
    const checks = await readiness.check()
    const ready = Object.values(checks).every(problem => problem === null)
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks })
  })

  app.get('/metrics', {
    config: { access: 'viewer' },
    schema: { tags: ['health'], summary: 'Prometheus metrics.' }
  }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })

  app.get('/openapi.json', { config: { access: 'viewer' }, schema: { hide: true } }, async () => app.swagger())

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
