import type { Logger } from '../logger.ts'
import type { VigilServer } from '../server.ts'

/**
 * Runs until SIGTERM or SIGINT, then shuts the server down gracefully (in-flight work finishes
 * and commits, the log closes). If that takes longer than `shutdownTimeoutMs`, the process exits
 * with code 1 rather than hang; a failed shutdown sets exit code 1.
 */
export function serveUntilSignal (server: VigilServer, logger: Logger, shutdownTimeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down')
      const force = setTimeout(() => {
        logger.error({ timeoutMs: shutdownTimeoutMs }, 'shutdown took too long; exiting')
        process.exit(1)
      }, shutdownTimeoutMs)
      force.unref()
      server.close().then(resolve, (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exitCode = 1
        resolve()
      })
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
}
