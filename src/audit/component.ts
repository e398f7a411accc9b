/**
 * The audit service as a `vigil serve` component: CAIPE's routes at the root (`/v1/audit/...`),
 * the archiver started once the log is connected, readiness for /readyz.
 */
import type { ServerComponent, ServerContext } from '../server.ts'
import { createAuditMetrics } from './metrics.ts'
import { auditRoutes } from './routes.ts'
import { AuditService } from './service.ts'
import { resolveAuditConfig } from './settings.ts'

export interface AuditComponentOptions {
  /** Where CAIPE's AUDIT_SERVICE_* aliases are read (default process.env). */
  env?: Record<string, string | undefined>
}

export function createAuditComponent (context: ServerContext, options: AuditComponentOptions = {}): ServerComponent & { readonly service: AuditService | undefined } {
  const config = resolveAuditConfig(context.config.audit, options.env ?? process.env)
  if (!config.enabled) return { name: 'audit', service: undefined }
  const logger = context.logger.child({ component: 'audit' })
  const service = new AuditService({ config, logger, metrics: createAuditMetrics(context.metrics.registry) })
  let started = false
  let problem: string | null = 'not started'
  let probeTimer: NodeJS.Timeout | undefined
  const refresh = async (): Promise<void> => { problem = await service.readinessProblem() }
  return {
    name: 'audit',
    service,
    routes: { plugin: auditRoutes as never, options: { service: () => started ? service : undefined } },
    async start (log) {
      await service.start(log)
      started = true
      await refresh()
      probeTimer = setInterval(() => { refresh().catch(() => {}) }, 2000)
      probeTimer.unref()
      logger.info({ backend: config.backend, topic: config.topic, verbosity: config.verbosity }, 'audit service started')
    },
    async stop () {
      clearInterval(probeTimer)
      problem = 'stopping'
      await service.stop()
    },
    readiness: () => problem
  }
}
