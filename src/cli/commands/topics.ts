import { Command, Option } from 'commander'
import type { TopicSpec } from '../../log/types.ts'
import { parseIntFlag } from '../main.ts'
import type { CommandContext } from '../context.ts'
import { printTable } from '../table.ts'

interface CreateOptions {
  partitions?: number
  replicationFactor?: number
  retentionMs?: number
  retentionBytes?: number
  cleanupPolicy?: 'delete' | 'compact'
  maxMessageBytes?: number
}

export function createTopicsCommand (ctx: CommandContext): Command {
  const topics = new Command('topics').description('List, create, describe and delete topics.')

  topics.command('list')
    .description('Print every topic name, one per line.')
    .action(async () => {
      const names = await (await ctx.openLog()).admin.listTopics()
      ctx.stdout.write(names.sort().map(n => n + '\n').join(''))
    })

  topics.command('create <name>')
    .description('Create a topic.')
    .option('--partitions <n>', 'number of partitions', parseIntFlag('--partitions', 1, 10_000))
    .option('--replication-factor <n>', 'Kafka only: copies of each partition', parseIntFlag('--replication-factor', 1, 16))
    .option('--retention-ms <ms>', 'delete records older than this; -1 keeps them forever', parseIntFlag('--retention-ms', -1))
    .option('--retention-bytes <bytes>', 'per partition size limit; -1 = none', parseIntFlag('--retention-bytes', -1))
    .addOption(new Option('--cleanup-policy <policy>', 'delete old records, or compact to the latest per key').choices(['delete', 'compact']))
    .option('--max-message-bytes <bytes>', 'largest record accepted', parseIntFlag('--max-message-bytes', 1))
    .action(async (name: string, options: CreateOptions) => {
      const spec: TopicSpec = { name }
      for (const [key, value] of Object.entries(options)) if (value !== undefined) Object.assign(spec, { [key]: value })
      const description = await (await ctx.openLog()).admin.createTopic(spec)
      ctx.stdout.write(`created topic ${description.name} with ${description.partitions.length} partition(s)\n`)
    })

  topics.command('describe <name>')
    .description('Print a topic\'s configuration and its partitions\' offsets.')
    .option('--json', 'print JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      const description = await (await ctx.openLog()).admin.describeTopic(name)
      if (options.json === true) {
        ctx.stdout.write(JSON.stringify(description, null, 2) + '\n')
        return
      }
      const c = description.config
      ctx.stdout.write(`topic ${description.name}\n` +
        `  partitions ${c.partitions}  replication ${c.replicationFactor}  cleanup ${c.cleanupPolicy}\n` +
        `  retention ${c.retentionMs === -1 ? 'forever' : `${c.retentionMs} ms`}, ${c.retentionBytes === -1 ? 'no size limit' : `${c.retentionBytes} bytes`}  max message ${c.maxMessageBytes} bytes\n`)
      printTable(ctx.stdout, ['PARTITION', 'LOW', 'HIGH', 'RECORDS'],
        description.partitions.map(p => [p.partition, p.lowOffset, p.highOffset, p.highOffset - p.lowOffset]))
    })

  topics.command('delete <name>')
    .description('Delete a topic and all its records.')
    .action(async (name: string) => {
      await (await ctx.openLog()).admin.deleteTopic(name)
      ctx.stdout.write(`deleted topic ${name}\n`)
    })
  return topics
}
