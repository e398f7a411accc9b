/**
 * Which roles satisfy a route's access level. admin ⊇ operator ⊇ viewer; producer and agent stand
 * apart (a principal may hold several roles).
 */
import type { Principal, Role, RouteAccess } from '../http/roles.ts'

const satisfiedBy: Readonly<Record<RouteAccess, readonly Role[]>> = {
  public: [],
  authenticated: ['viewer', 'producer', 'operator', 'admin', 'agent'],
  viewer: ['viewer', 'operator', 'admin'],
  operator: ['operator', 'admin'],
  admin: ['admin'],
  producer: ['producer'],
  agent: ['agent']
}

export function mayCall (principal: Principal, access: RouteAccess): boolean {
  if (access === 'public') return true
  if (access === 'authenticated') return principal.roles.length > 0
  const accepted = satisfiedBy[access]
  return principal.roles.some(role => accepted.includes(role))
}

/** The roles that satisfy an access level, for error messages and the OpenAPI document. */
export function rolesSatisfying (access: RouteAccess): readonly Role[] {
  return satisfiedBy[access]
}
