/**
 * Access control: who may call what. Tokens belong to named principals with roles; every route
 * declares the access level it needs (src/http/roles.ts) and the gate checks it on each request;
 * write routes are rate limited per principal; every state-changing action on an operator or
 * admin route, token reloads and failed sign-ins are written to Vigil's own audit trail.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { VigilConfig } from '../config/schema.ts'
import { VigilError } from '../errors.ts'
import type { Principal, Role } from '../http/roles.ts'
import type { Log } from '../log/types.ts'
import type { Logger } from '../logger.ts'
import { AgentRegistry } from './agents.ts'
import { PrincipalDirectory } from './directory.ts'
import { installGate } from './gate.ts'
import { NamedPrincipals, credentialsOf } from './principals.ts'
import { accessRoutes } from './routes.ts'
import { SelfAudit } from './self-audit.ts'

export { assertActsForNode } from './gate.ts'
export { mayCall, rolesSatisfying } from './policy.ts'
export { hashToken, newToken } from './token-hash.ts'
export { actionEvent, actionEventType, signInFailureEventType, type ActionRecord } from './self-audit.ts'
export { accessErrors } from './error-codes.ts'
export { httpsOptions, tlsEnabled, watchCertificates } from './tls.ts'

export interface AccessControl {
  /** Adds the gate's hooks, the rate limiter and the access routes; call before any other route. */
  install (app: FastifyInstance): Promise<void>
  /** Loads the agents' credentials and starts writing self-audit events (those recorded before wait until now). */
  start (log: Log): Promise<void>
  stop (): Promise<void>
  /** Reads access.tokenFile again; the previous principals stay when it is invalid. */
  reload (): { count: number } | { error: VigilError }
  /** True when no credential of any kind is configured: everyone is `anonymous` with every role. */
  readonly open: boolean
}

/** The node an agent request is for (body or query node_id), for its rate-limit key. */
function nodeOf (request: FastifyRequest): string {
  const from = (request.body as { node_id?: unknown } | undefined)?.node_id ?? (request.query as { node_id?: unknown } | undefined)?.node_id
  return typeof from === 'string' ? from.slice(0, 200) : '-'
}

export interface AccessControlContext {
  config: Readonly<VigilConfig>
  logger: Logger
}

export function createAccessControl ({ config, logger }: AccessControlContext): AccessControl {
  const log = logger.child({ component: 'access' })
  const access = config.access
  const selfAudit = new SelfAudit({
    enabled: access.selfAudit,
    target: { topic: config.audit.topic, partitions: config.audit.partitions },
    failureIntervalMs: access.signInFailureAuditIntervalMs,
    logger: log
  })
  const named = new NamedPrincipals({
    fromConfig: credentialsOf(access.principals, 'access.principals'),
    tokenFile: access.tokenFile,
    // Every reload (a change of the file, SIGHUP, the reload route) forgets the verified tokens.
    onReload: (outcome) => {
      directory.invalidate()
      if ('error' in outcome) log.error({ code: outcome.error.code }, `access.tokenFile not reloaded, the previous principals stay: ${outcome.error.message}`)
      else log.info({ principals: outcome.count }, 'principals reloaded')
      selfAudit.note({ actor: 'system', action: 'access.tokens.reload', resource: access.tokenFile, outcome: 'error' in outcome ? 'failure' : 'success', source: 'system', reason: 'error' in outcome ? outcome.error.code : undefined })
    }
  })
  const apiTokenRoles = [...new Set(access.apiTokenRoles)] as Role[]
  const agents = new AgentRegistry({
    topic: access.agentTopic,
    refreshIntervalMs: access.agentRefreshIntervalMs,
    enrolmentSecret: access.enrolmentSecret,
    logger: log,
    onChange: nodeId => directory.forget(principal => principal.nodeId === nodeId)
  })
  const directory = new PrincipalDirectory({
    plainTokens: config.server.apiTokens.map((token, i) => ({ token, principal: { name: `api-token-${i + 1}`, roles: apiTokenRoles } satisfies Principal })),
    sources: [named, agents],
    cacheSize: access.cacheSize
  })
  const open = config.server.apiTokens.length === 0 && access.principals.length === 0 && access.tokenFile === '' && access.enrolmentSecret === ''
  const authenticate = directory.authenticate.bind(directory)
  const onSighup = (): void => { named.reload() }

  return {
    open,
    async install (app) {
      installGate(app, {
        authenticate: open ? undefined : authenticate,
        selfAudit,
        isRevoked: nodeId => agents.isRevoked(nodeId),
        maxConcurrentRequests: access.maxConcurrentRequests,
        agentsNeedClientCertificate: config.server.tls.clientCertificates === 'require-for-agents'
      })
      if (access.writeRateLimitPerMinute > 0) {
        await app.register(rateLimit, {
          global: true,
          // After the gate: the principal is known, so each is limited on its own.
          hook: 'preHandler',
          max: access.writeRateLimitPerMinute,
          timeWindow: 60_000,
          allowList: (request) => request.method === 'GET' || request.method === 'HEAD' || request.routeOptions.config.access === 'public',
          keyGenerator: (request) => {
            // An open API has one principal for everyone: there, each client address has its own budget.
            const who = request.principal === undefined || open ? request.ip : request.principal.name
            // Agent routes: each node has its own budget, also when a fleet shares one token (VaultMesh's way).
            return request.routeOptions.config.access === 'agent' ? `${who}/${nodeOf(request)}` : who
          },
          errorResponseBuilder: (request, context) => new VigilError('VGL_ACCESS_RATE_LIMITED',
            `principal ${request.principal?.name ?? request.ip} made more than ${context.max} write requests in a minute (access.writeRateLimitPerMinute); retry in ${Math.ceil(context.ttl / 1000)} s`,
            { limit: context.max, statusCode: 429 })
        })
      }
      await app.register(accessRoutes, { reload: () => named.reload(), agents, selfAudit })
    },
    async start (logOfServer) {
      selfAudit.attach(logOfServer)
      await agents.start(logOfServer)
      named.watch()
      process.on('SIGHUP', onSighup)
    },
    async stop () {
      process.off('SIGHUP', onSighup)
      agents.stop()
      named.close()
      await selfAudit.close()
    },
    reload: () => named.reload()
  }
}
