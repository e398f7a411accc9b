/**
 * Access control's own routes: who am I (the console's sign-in), and reloading the token file.
 */
import type { FastifyInstance } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { isVigilError, type VigilError } from '../errors.ts'
import type { AgentRegistry } from './agents.ts'
import type { SelfAudit } from './self-audit.ts'

export interface AccessRoutesOptions {
  reload: () => { count: number } | { error: VigilError }
  agents: AgentRegistry
  selfAudit: SelfAudit
}

const EnrolBody = Type.Object({
  node_id: Type.String({ minLength: 1, maxLength: 200, description: 'The node\'s id (VaultMesh: a UUID).' }),
  enrolment_secret: Type.String({ minLength: 1, maxLength: 1000, description: 'access.enrolmentSecret.' }),
  hostname: Type.Optional(Type.String({ maxLength: 255 }))
}, { additionalProperties: false })
const NodeParams = Type.Object({ nodeId: Type.String({ minLength: 1, maxLength: 200 }) })

export async function accessRoutes (app: FastifyInstance, options: AccessRoutesOptions): Promise<void> {
  app.get('/v1/access/whoami', {
    config: { access: 'authenticated' },
    schema: { tags: ['access'], summary: 'The principal the request\'s credentials belong to, its roles and (agents) its node.' }
  }, async (request) => request.principal)

  app.post('/v1/access/tokens/reload', {
    config: { access: 'admin' },
    schema: { tags: ['access'], summary: 'Reads access.tokenFile again (as a change of the file or SIGHUP does); an invalid file keeps the previous principals and answers why.' }
  }, async () => {
    const outcome = options.reload()
    if ('error' in outcome) throw outcome.error
    return { principals: outcome.count }
  })

  const { agents, selfAudit } = options
  app.post<{ Body: Static<typeof EnrolBody> }>('/api/agent/enroll', {
    // No token yet: the enrolment secret in the body is the credential.
    config: { access: 'public' },
    schema: { tags: ['access'], summary: 'A new node presents the enrolment secret and gets a token bound to its node id (shown once). Access: the enrolment secret.', body: EnrolBody }
  }, async (request) => {
    const { node_id: nodeId, enrolment_secret: secret, hostname } = request.body
    try {
      const token = await agents.enrol(nodeId, secret, hostname)
      selfAudit.note({ actor: `agent:${nodeId}`, action: 'access.agents.enrol', resource: `node=${nodeId}`, outcome: 'success', source: 'api', detail: { hostname, remote_address: request.ip } })
      return { node_id: nodeId, token }
    } catch (error) {
      if (isVigilError(error, 'VGL_ACCESS_ENROLMENT_REFUSED')) selfAudit.signInFailure(request.ip, 'wrong enrolment secret', 'POST /api/agent/enroll')
      else if (isVigilError(error, 'VGL_ACCESS_NODE_REVOKED')) selfAudit.note({ actor: `agent:${nodeId}`, action: 'access.agents.enrol', resource: `node=${nodeId}`, outcome: 'denied', source: 'api', reason: error.code })
      throw error
    }
  })

  app.get('/v1/access/agents', {
    config: { access: 'viewer' },
    schema: { tags: ['access'], summary: 'Enrolled and revoked nodes (never their credentials).' }
  }, async () => ({ agents: agents.list() }))

  app.post<{ Params: Static<typeof NodeParams> }>('/v1/access/agents/:nodeId/revoke', {
    config: { access: 'operator' },
    schema: { tags: ['access'], summary: 'Revokes a node: its token is refused at once, on every Vigil process, and it cannot enrol again until reinstated.', params: NodeParams }
  }, async (request) => await agents.revoke(request.params.nodeId, request.principal?.name ?? 'anonymous'))

  app.post<{ Params: Static<typeof NodeParams> }>('/v1/access/agents/:nodeId/reinstate', {
    config: { access: 'operator' },
    schema: { tags: ['access'], summary: 'Lets a revoked node enrol again (it gets a new token then).', params: NodeParams }
  }, async (request) => await agents.reinstate(request.params.nodeId, request.principal?.name ?? 'anonymous'))
}
