/**
 * Writes every action a person takes through the API (a redrive, a fleet command, a schema or
 * retention change) to the audit trail, with who did it: one `operator_action` event per
 * successful or refused mutating request on those routes, ingested through the audit API itself
 * (an in-process request carrying the caller's credentials), so it lands in the same hash chain
 * as every other audit record. Reads are not recorded; neither are agents' or producers' posts.
 */
import type { FastifyInstance, FastifyRequest, FastifyReply } from 'fastify'

/** Route patterns (as Fastify names them) whose mutating calls are a person's action. */
const auditedRoutes: ReadonlyArray<RegExp> = [
  /^\/dlq\/:topic\/redrive$/,
  /^\/api\/fleet\/commands$/,
  /^\/v1\/audit\/retention$/
]
const mutating = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export interface ActionAuditOptions {
  /** Where the server's own registry is mounted (its writes are schema changes); '' when external. */
  registryPrefix: string
}

export function isAuditedAction (method: string, route: string, registryPrefix: string): boolean {
  if (!mutating.has(method)) return false
  if (auditedRoutes.some(pattern => pattern.test(route))) return true
  return registryPrefix !== '' && route.startsWith(`${registryPrefix}/`) && !route.startsWith(`${registryPrefix}/compatibility/`) &&
    // Registering a version, deleting one, or changing a level or mode.
    (/\/subjects\/:subject(\/versions(\/:version)?)?$/.test(route) || /\/(config|mode)(\/:subject)?$/.test(route)) &&
    !(method === 'POST' && /\/subjects\/:subject$/.test(route)) // "is this schema registered?" is a read
}

export function actionAuditHook (app: FastifyInstance, options: ActionAuditOptions): void {
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? ''
    if (!isAuditedAction(request.method, route, options.registryPrefix)) return
    if (reply.statusCode === 401) return // no credentials: nobody to name
    const principal = request.principal
    const event = {
      type: 'operator_action',
      action: `${request.method} ${route}`,
      outcome: reply.statusCode < 400 ? 'success' : 'failure',
      component: 'vigil',
      source: 'vigil-api',
      resource_ref: request.url.split('?')[0],
      actor: principal?.name ?? 'api-token',
      actor_roles: principal?.roles ?? [],
      status_code: reply.statusCode,
      request_id: request.id
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (request.headers.authorization !== undefined) headers.authorization = request.headers.authorization
    try {
      const answer = await app.inject({ method: 'POST', url: '/v1/audit/events', headers, payload: JSON.stringify(event) })
      if (answer.statusCode !== 202) request.log.warn({ status: answer.statusCode, action: event.action }, 'could not write an operator action to the audit trail')
    } catch (error) {
      request.log.warn({ err: error, action: event.action }, 'could not write an operator action to the audit trail')
    }
  })
}
