/**
 * Access control's own routes: who am I (the console's sign-in), and reloading the token file.
 */
import type { FastifyInstance } from 'fastify'
import type { VigilError } from '../errors.ts'

export interface AccessRoutesOptions {
  reload: () => { count: number } | { error: VigilError }
}

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
}
