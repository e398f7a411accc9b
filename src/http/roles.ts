/**
 * Who may call a route. Every route declares one access level in its options, next to its
 * schema (`{ config: { access: 'operator' }, schema: … }`); the access-control layer checks it on
 * every request and states it in the OpenAPI document, so a test can walk every route.
 *
 *   public         anyone, no credentials (only /healthz and /readyz)
 *   authenticated  any principal with valid credentials, whatever its roles (whoami)
 *   viewer    read everything but secrets
 *   producer  post audit events and records
 *   operator  redrive, issue fleet commands, run verification (implies viewer)
 *   admin     schemas, retention, topics, config (implies operator)
 *   agent     fleet agent routes, for the agent's own node only
 */
export const roles = ['viewer', 'producer', 'operator', 'admin', 'agent'] as const
export type Role = typeof roles[number]
export type RouteAccess = Role | 'public' | 'authenticated'

/** Who made a request, once the access-control layer has checked its credentials. */
export interface Principal {
  readonly name: string
  readonly roles: readonly Role[]
  /** Set for agent credentials: the one node this principal may act for. */
  readonly nodeId?: string
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route (see src/http/roles.ts). */
    access?: RouteAccess
  }
  interface FastifyRequest {
    /** Set by the access-control layer before any handler runs; undefined only on public routes. */
    principal?: Principal
  }
}
