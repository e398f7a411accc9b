/**
 * The `vigil` command line. Parsing only: each command calls the modules that do the work.
 * Errors are printed with their code and hint, and the process exits non-zero.
 */
import type { Readable, Writable } from 'node:stream'
import { Command, CommanderError } from 'commander'
import { loadConfig } from '../config/load.ts'
import type { VigilConfig } from '../config/schema.ts'
import { VigilError, formatError, isVigilError } from '../errors.ts'
import { createLog } from '../log/open.ts'
import type { Log } from '../log/types.ts'
import type { CommandContext } from './context.ts'
import { watchOutputClosed } from './output-closed.ts'
import { createServeCommand } from './commands/serve.ts'
import { createProduceCommand } from './commands/produce.ts'
import { createConsumeCommand } from './commands/consume.ts'
import { createTopicsCommand } from './commands/topics.ts'
import { createGroupsCommand } from './commands/groups.ts'
import { createAuditCommand } from './commands/audit.ts'
import { createSchemasCommand } from './commands/schemas.ts'
import { createDlqCommand } from './commands/dlq.ts'
import { createDispatcherCommand } from './commands/dispatcher.ts'
import { createAccessCommand } from './commands/access.ts'
import { isAction, recordCliAction } from './self-audit.ts'
import { createFleetCommand } from './commands/fleet.ts'
import { createAgentCommand } from './commands/agent.ts'
import { createApplyCommand, createPlanCommand } from './commands/ops.ts'

export interface RunOptions {
  stdin?: Readable
  stdout?: Writable
  stderr?: Writable
  env?: Record<string, string | undefined>
}

/** Runs the CLI and resolves with the exit code (0 success, 1 failure, 2 usage error or, for `vigil plan`, drift). */
export async function runCli (argv: string[], options: RunOptions = {}): Promise<number> {
  const stdout = options.stdout ?? process.stdout
  const stderr = options.stderr ?? process.stderr
  const env = options.env ?? process.env
  let config: Readonly<VigilConfig> | undefined
  let log: Log | undefined

  const program = new Command('vigil')
    .description('Vigil: an event platform for security and compliance software.')
    .option('--log <url>', 'where the log lives: embedded:<file.db> or kafka://host:port[,host:port…] (config log.url)')
    .option('--config <file>', 'JSON config file (also VIGIL_CONFIG); see docs/config.md')
    .showHelpAfterError('(run the command with --help to see its arguments)')
    .exitOverride()
    .configureOutput({ writeOut: s => stdout.write(s), writeErr: s => stderr.write(s) })

  const context: CommandContext = {
    config () {
      if (config === undefined) {
        const globals = program.opts<{ log?: string, config?: string }>()
        config = loadConfig({ file: globals.config ?? env.VIGIL_CONFIG, env, overrides: { 'log.url': globals.log } })
      }
      return config
    },
    async openLog () {
      if (log === undefined) {
        const opened = createLog(context.config())
        await opened.connect()
        log = opened
      }
      return log
    },
    stdin: options.stdin ?? process.stdin,
    stdout,
    stderr
  }

  for (const create of [createServeCommand, createProduceCommand, createConsumeCommand, createTopicsCommand, createGroupsCommand, createSchemasCommand, createAuditCommand, createDlqCommand, createDispatcherCommand, createAccessCommand, createFleetCommand, createAgentCommand, createPlanCommand, createApplyCommand]) {
    program.addCommand(create(context))
  }
  // Every level of subcommand, so that a usage error deep down is a return code, never process.exit.
  const overrideExits = (command: Command): void => {
    for (const sub of command.commands) {
      sub.exitOverride().configureOutput({ writeOut: s => stdout.write(s), writeErr: s => stderr.write(s) })
      overrideExits(sub)
    }
  }
  overrideExits(program)
  let acting: Command | undefined
  program.hook('preAction', (_program, command) => { if (isAction(command)) acting = command })
  const recordAction = async (error?: unknown): Promise<void> => {
    // Only what the CLI did on the log itself: through a server, the server records it.
    if (acting === undefined || log === undefined || config === undefined) return
    await recordCliAction(log, config, acting, error).catch(e => stderr.write(`warning: the action was not recorded in the audit trail: ${formatError(e)}\n`))
  }

  const output = watchOutputClosed(stdout)
  try {
    const parsing = program.parseAsync(argv, { from: 'user' })
    const readerGone = await Promise.race([parsing.then(() => false), output.closed.then(() => true)])
    // The reader went away (… | head): what the command still does ends when its log closes
    // below, and whatever it throws then is nobody's concern.
    if (readerGone) parsing.catch(() => {})
    else await recordAction()
    return 0
  } catch (error) {
    await recordAction(error)
    if (error instanceof CommanderError) {
      // Help and version exit with 0; parse errors were already printed by commander.
      return error.exitCode === 0 ? 0 : 2
    }
    stderr.write(formatError(error) + '\n')
    // Drift exits 2 as a usage error does, so that CI can tell "changes to make" from a failure.
    return isVigilError(error) && (error.code === 'VGL_CLI_USAGE' || error.code === 'VGL_OPS_DRIFT') ? 2 : 1
  } finally {
    await log?.close().catch(() => {})
  }
}

/** Parses a whole number for a flag, or explains which flag is wrong. */
export function parseIntFlag (flag: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value)
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
      throw new VigilError('VGL_CLI_USAGE', `${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`, { flag })
    }
    return n
  }
}

if (import.meta.main) {
  const code = await runCli(process.argv.slice(2))
  // serve keeps running through its own signal handlers; the others end here.
  if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code
}
