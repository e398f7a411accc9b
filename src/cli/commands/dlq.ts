import { Command, Option } from 'commander'
import type { CommandContext } from '../context.ts'
import { parseIntFlag } from '../main.ts'
import { printTable } from '../table.ts'
import { VigilError } from '../../errors.ts'
import { DeadLetterStore, type RedriveStateName } from '../../pipeline/dlq.ts'
import { filterFromQuery } from '../../pipeline/routes.ts'
import { parseDeadLetterId } from '../../pipeline/dead-letter.ts'
import { parkedTopicOf } from '../../pipeline/runtime.ts'
import { serdeRenderer } from '../../pipeline/component.ts'
import { deadLetterTopicOfDispatcher } from '../../dispatcher/connector.ts'
import { openSchemaRegistry, type SchemaServices } from '../../schema/index.ts'

interface FilterOptions {
  dlq?: string
  parked?: boolean
  topic?: string
  code?: string
  eventType?: string
  pipeline?: string
  since?: string
  until?: string
  state?: RedriveStateName
  json?: boolean
}

function addFilterOptions (command: Command): Command {
  return command
    .option('--dlq <topic>', 'dead-letter topic (default: the CISO Assistant connector\'s, e.g. observation-dlq)')
    .option('--parked', 'use the dead-letter topic\'s parking topic (<dlq>-parked)')
    .option('--topic <topic>', 'only dead letters of this original topic')
    .option('--code <code>', 'only this error code (e.g. VGL_DISPATCHER_NO_MATCH)')
    .option('--event-type <type>', 'only this event_type / message_type')
    .option('--pipeline <name>', 'only dead letters of this pipeline')
    .option('--since <time>', 'dead-lettered at or after (ISO-8601 or epoch ms)')
    .option('--until <time>', 'dead-lettered before (ISO-8601 or epoch ms)')
    .addOption(new Option('--state <state>', 'redrive state').choices(['new', 'pending', 'redriven']))
    .option('--json', 'print JSON')
}

export function createDlqCommand (ctx: CommandContext): Command {
  const dlq = new Command('dlq').description('List, show and redrive dead letters (records pipelines could not handle).')
  let schema: Promise<SchemaServices> | undefined

  const open = async (): Promise<DeadLetterStore> => {
    const log = await ctx.openLog()
    const config = ctx.config()
    const serde = async () => {
      schema ??= openSchemaRegistry(config, log, { registerBuiltin: false })
      return (await schema).serde
    }
    return new DeadLetterStore(log, { maxRedrives: config.pipelines.deadLetter.maxRedrives, renderValue: serdeRenderer(serde) })
  }
  const close = async () => { if (schema !== undefined) await (await schema).close() }
  const topicOf = (options: FilterOptions): string => {
    const topic = options.dlq ?? deadLetterTopicOfDispatcher(ctx.config())
    return options.parked === true ? parkedTopicOf(topic) : topic
  }

  addFilterOptions(dlq.command('list'))
    .description('List dead letters, oldest first.')
    .option('--limit <n>', 'at most this many (default 100)', parseIntFlag('--limit', 1, 100_000))
    .action(async (options: FilterOptions & { limit?: number }) => {
      try {
        const topic = topicOf(options)
        const result = await (await open()).list(topic, filterFromQuery(options, '--'), options.limit ?? 100)
        if (options.json === true) {
          ctx.stdout.write(JSON.stringify(result, null, 2) + '\n')
          return
        }
        printTable(ctx.stdout, ['ID', 'DEAD-LETTERED', 'TOPIC', 'EVENT TYPE', 'CODE', 'ATTEMPTS', 'REDRIVES', 'STATE', 'MESSAGE'], result.items.map(item => [
          item.id,
          new Date(item.deadLetteredAt).toISOString(),
          `${item.original.topic}:${item.original.partition}:${item.original.offset}`,
          item.eventType ?? '-',
          item.errorCode,
          item.attempts,
          item.redriveCount,
          item.redrive,
          item.errorMessage.length > 80 ? `${item.errorMessage.slice(0, 77)}...` : item.errorMessage
        ]))
        ctx.stdout.write(`${result.items.length} of ${result.total} dead letter(s) in ${topic}${result.truncated ? ' (scan stopped early: the topic is very large)' : ''}\n`)
      } finally {
        await close()
      }
    })

  dlq.command('show <id>')
    .description('Show one dead letter (id: <dead-letter topic>:<partition>:<offset>), its failure context and its value decoded.')
    .action(async (id: string) => {
      try {
        ctx.stdout.write(JSON.stringify(await (await open()).show(id), null, 2) + '\n')
      } finally {
        await close()
      }
    })

  addFilterOptions(dlq.command('redrive [ids...]'))
    .description('Put dead letters back on their original topics (with a vigil.redrive.count header). Idempotent: already redriven ones are skipped.')
    .option('--all', 'every dead letter of the topic')
    .option('--force', 'also redrive dead letters already redriven, in doubt, or parked')
    .option('--dry-run', 'print what would be redriven and change nothing')
    .action(async (ids: string[], options: FilterOptions & { all?: boolean, force?: boolean, dryRun?: boolean }) => {
      try {
        const filter = filterFromQuery(options, '--')
        const hasFilter = Object.values(filter).some(v => v !== undefined)
        if (ids.length > 0 && (hasFilter || options.all === true)) {
          throw new VigilError('VGL_CLI_USAGE', 'give dead-letter ids, or filters, or --all, not several of them', {})
        }
        const topic = options.dlq === undefined && options.parked !== true && ids[0] !== undefined ? parseDeadLetterId(ids[0]).topic : topicOf(options)
        const result = await (await open()).redrive({
          deadLetterTopic: topic,
          ids: ids.length > 0 ? ids : undefined,
          filter: hasFilter ? filter : undefined,
          all: options.all,
          force: options.force,
          dryRun: options.dryRun
        })
        if (options.json === true) {
          ctx.stdout.write(JSON.stringify(result, null, 2) + '\n')
          return
        }
        for (const outcome of result.outcomes) {
          const to = outcome.to === undefined ? '' : ` -> ${outcome.to.topic}:${outcome.to.partition}:${outcome.to.offset}`
          ctx.stdout.write(`${outcome.status.padEnd(13)} ${outcome.id}${to}${outcome.code === undefined ? '' : `  ${outcome.code}: ${outcome.reason ?? ''}`}\n`)
        }
        ctx.stdout.write(options.dryRun === true
          ? `${result.outcomes.filter(o => o.status === 'would-redrive').length} would be redriven, ${result.skipped} skipped (dry run)\n`
          : `${result.redriven} redriven, ${result.skipped} skipped\n`)
      } finally {
        await close()
      }
    })
  return dlq
}
