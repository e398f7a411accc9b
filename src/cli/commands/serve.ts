import { Command } from 'commander'
import { validateConfig } from '../../config/load.ts'
import { startServer } from '../../server.ts'
import { createLogger } from '../../logger.ts'
import { serverComponents } from '../../components.ts'
import { parseIntFlag } from '../main.ts'
import type { CommandContext } from '../context.ts'
import { serveUntilSignal } from '../serve-until-signal.ts'
import { idleV8Helpers } from '../../thread-priority.ts'

export function createServeCommand (ctx: CommandContext): Command {
  return new Command('serve')
    .description('Serve Vigil over HTTP until SIGTERM or SIGINT (health, readiness, metrics and every feature\'s API).')
    .option('--port <port>', 'HTTP port (config server.port)', parseIntFlag('--port', 0, 65535))
    .action(async (options: { port?: number }) => {
      const base = ctx.config()
      const config = options.port === undefined ? base : validateConfig({ ...base, server: { ...base.server, port: options.port } })
      const logger = createLogger(config)
      // This process is Vigil's own: its V8 helpers yield to requests (thread-priority.ts says
      // why). In the background: start-up need not wait for the chrt runs.
      if (config.server.idleHelperThreads) {
        idleV8Helpers().then(idle => { logger.debug({ idle }, 'V8 helper threads at SCHED_IDLE') }, () => {})
      }
      const server = await startServer(config, { logger, components: serverComponents })
      ctx.stdout.write(`vigil serving on ${server.url} (log ${server.log.url})\n`)
      await serveUntilSignal(server, logger, config.server.shutdownTimeoutMs)
    })
}
