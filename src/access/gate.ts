/**
 * The check every request passes before its handler: a bound on requests in flight, the
 * credentials (Bearer or Basic, whose password is the token), the route's access level, and,
 * after the answer, the self-audit record of a state-changing action. Routes that do not declare
 * an access level stop `vigil serve` at start, so no route is ever left open by omission.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { VigilError } from '../errors.ts'
import { roles, type Principal, type RouteAccess } from '../http/roles.ts'
import { mayCall, rolesSatisfying } from './policy.ts'
import type { SelfAudit } from './self-audit.ts'

export interface GateOptions {
  /** undefined when the API is open (no credential of any kind is configured). */
  authenticate: ((token: string) => Promise<Principal | undefined>) | undefined
  selfAudit: SelfAudit
  /** Whether an operator revoked this node: its credentials are refused at once. */
  isRevoked: (nodeId: string) => boolean
  /** access.maxConcurrentRequests; 0 for no bound. */
  maxConcurrentRequests: number
  /** server.tls.clientCertificates is require-for-agents: agent routes need a verified client certificate. */
  agentsNeedClientCertificate: boolean
}

/** Who calls an open API: everyone may do everything, as before access control existed. */
export const anonymous: Principal = Object.freeze({ name: 'anonymous', roles: Object.freeze([...roles]) })

const auditedAccess = new Set<RouteAccess>(['operator', 'admin'])
const readMethods = new Set(['GET', 'HEAD', 'OPTIONS'])

export function installGate (app: FastifyInstance, options: GateOptions): void {
  const { authenticate, selfAudit, maxConcurrentRequests } = options
  let inFlight = 0

  app.addHook('onRoute', (route) => {
    if (route.config?.access === undefined) {
      const methods = Array.isArray(route.method) ? route.method.join(',') : route.method
      throw new VigilError('VGL_ACCESS_ROUTE_UNDECLARED', `route ${methods} ${route.url} declares no access level (config.access)`, { route: route.url })
    }
  })

  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config.access
    if (access === 'public') return
    if (maxConcurrentRequests > 0) {
      if (inFlight >= maxConcurrentRequests) {
        reply.header('retry-after', '1')
        throw new VigilError('VGL_ACCESS_OVERLOADED', `the server is answering ${maxConcurrentRequests} requests already (access.maxConcurrentRequests)`, { limit: maxConcurrentRequests })
      }
      inFlight++
      reply.raw.once('close', () => { inFlight-- })
    }
    request.principal = authenticate === undefined ? anonymous : await principalOf(request, authenticate, selfAudit)
    const nodeId = request.principal.nodeId
    if (nodeId !== undefined && options.isRevoked(nodeId)) {
      throw new VigilError('VGL_ACCESS_NODE_REVOKED', `node ${nodeId} was revoked: its credentials are refused`, { nodeId })
    }
    // An unmatched URL has no access level: a caller with valid credentials learns it is a 404.
    if (access === undefined) return
    if (!mayCall(request.principal, access)) {
      throw new VigilError('VGL_ACCESS_FORBIDDEN', `${request.method} ${request.routeOptions.url ?? ''} needs the ${access} role (or ${rolesSatisfying(access).filter(r => r !== access).join(', ') || 'no other'}); principal ${request.principal.name} has ${request.principal.roles.join(', ')}`, {
        required: access, principal: request.principal.name
      })
    }
    if (access === 'agent' && options.agentsNeedClientCertificate && !clientCertificateVerified(request)) {
      throw new VigilError('VGL_ACCESS_CLIENT_CERTIFICATE_REQUIRED', `${request.routeOptions.url ?? ''} is an agent route: it needs a client certificate signed by server.tls.caFile`, {})
    }
  })

  app.addHook('onResponse', async (request, reply) => {
    const access = request.routeOptions.config.access
    if (access === undefined || !auditedAccess.has(access) || readMethods.has(request.method)) return
    // A 401 is a failed sign-in, recorded (bounded) when it happened.
    if (reply.statusCode === 401) return
    selfAudit.note(actionOf(request, reply))
  })
}

/**
 * For routes that act for one node (a heartbeat, a scan, a command fetch): an agent credential
 * bound to a node may act only for that node. Throws VGL_ACCESS_WRONG_NODE naming both.
 */
export function assertActsForNode (request: FastifyRequest, nodeId: string): void {
  const bound = request.principal?.nodeId
  // Node ids are UUIDs in VaultMesh: compared without regard to case.
  if (bound !== undefined && bound.toLowerCase() !== nodeId.toLowerCase()) {
    throw new VigilError('VGL_ACCESS_WRONG_NODE', `principal ${request.principal?.name ?? ''} acts for node ${bound} only, not for node ${nodeId}`, { nodeId, boundTo: bound })
  }
}

async function principalOf (request: FastifyRequest, authenticate: (token: string) => Promise<Principal | undefined>, selfAudit: SelfAudit): Promise<Principal> {
  const token = tokenOf(request)
  if (token === undefined) throw new VigilError('VGL_HTTP_UNAUTHORIZED', 'missing API token: send "Authorization: Bearer <token>"', {})
  const principal = await authenticate(token)
  if (principal === undefined) {
    selfAudit.signInFailure(request.ip, 'invalid token', `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0] ?? ''}`)
    throw new VigilError('VGL_HTTP_UNAUTHORIZED', 'invalid API token', {})
  }
  return principal
}

/** The token of "Bearer <token>", or the password of "Basic <user:password>" (registry and CAIPE clients only speak Basic). */
function tokenOf (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const space = header.indexOf(' ')
  if (space === -1) return undefined
  const scheme = header.slice(0, space).toLowerCase()
  const value = header.slice(space + 1).trim()
  if (value === '') return undefined
  if (scheme === 'bearer') return value
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    return colon === -1 || colon === decoded.length - 1 ? undefined : decoded.slice(colon + 1)
  }
  return undefined
}

function clientCertificateVerified (request: FastifyRequest): boolean {
  const socket = request.raw.socket as { authorized?: boolean }
  return socket.authorized === true
}

function actionOf (request: FastifyRequest, reply: FastifyReply): Parameters<SelfAudit['note']>[0] {
  const status = reply.statusCode
  const params = request.params as Record<string, string> | undefined
  const resource = params === undefined || Object.keys(params).length === 0
    ? undefined
    : Object.entries(params).map(([key, value]) => `${key}=${value}`).join(',')
  return {
    actor: request.principal?.name ?? 'anonymous',
    action: `${request.method} ${request.routeOptions.url ?? ''}`,
    resource,
    outcome: status < 400 ? 'success' : status === 401 || status === 403 ? 'denied' : 'failure',
    source: request.headers['x-vigil-console'] === undefined ? 'api' : 'console',
    reason: status < 400 ? undefined : String(status),
    detail: { status, query: request.query }
  }
}
