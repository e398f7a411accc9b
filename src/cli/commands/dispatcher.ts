import { Command } from 'commander'
import { loadConfig, redactConfig } from '../../config/load.ts'
import { startServer } from '../../server.ts'
import { createLogger } from '../../logger.ts'
import { createPipelinesComponent } from '../../pipeline/component.ts'
import { legacyEnvOverrides } from '../../dispatcher/legacy-env.ts'
import { parseIntFlag } from '../main.ts'
import type { CommandContext } from '../context.ts'
import { serveUntilSignal } from '../serve-until-signal.ts'

export function createDispatcherCommand (ctx: CommandContext): Command {
  return new Command('dispatcher')
    .description('Run the CISO Assistant connector until SIGTERM or SIGINT: a drop-in for CISO Assistant\'s dispatcher that also reads its environment (API_URL, USER_TOKEN, BOOTSTRAP_SERVERS, KAFKA_*, ERRORS_TOPIC, S3_*, VERIFY_CERTIFICATE). Serves /metrics, /readyz and the /dlq API.')
    .option('--port <port>', 'HTTP port for metrics, readiness and the dead-letter API (config server.port)', parseIntFlag('--port', 0, 65535))
    .option('--print-config', 'print the effective configuration (secrets redacted) and exit')
    .action(async (options: { port?: number, printConfig?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals<{ log?: string, config?: string }>()
      const legacy = legacyEnvOverrides(process.env, { logUrlGiven: globals.log !== undefined })
      const config = loadConfig({
        file: globals.config ?? process.env.VIGIL_CONFIG,
        env: process.env,
        overrides: { ...legacy.overrides, 'log.url': globals.log ?? legacy.overrides['log.url'], 'dispatcher.enabled': true, 'server.port': options.port }
      })
      if (options.printConfig === true) {
        ctx.stdout.write(JSON.stringify(redactConfig(config), null, 2) + '\n')
        return
      }
      const logger = createLogger(config)
      if (legacy.read.length > 0) logger.info({ variables: legacy.read }, 'read the CISO Assistant dispatcher\'s environment')
      for (const note of legacy.notes) logger.warn(note)
      const server = await startServer(config, { logger, components: [context => createPipelinesComponent(context, { registerBuiltinSchemas: true })] })
      ctx.stdout.write(`vigil dispatcher: ${config.dispatcher.topic} -> ${config.dispatcher.api.url} (log ${server.log.url}, metrics on ${server.url}/metrics)\n`)
      await serveUntilSignal(server, logger, config.server.shutdownTimeoutMs)
    })
}
