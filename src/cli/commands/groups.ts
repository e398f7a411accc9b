import { Command } from 'commander'
import type { CommandContext } from '../context.ts'
import { printTable } from '../table.ts'

export function createGroupsCommand (ctx: CommandContext): Command {
  const groups = new Command('groups').description('List consumer groups and show their committed offsets and lag.')

  groups.command('list')
    .description('Print every consumer group, one per line.')
    .action(async () => {
      const names = await (await ctx.openLog()).admin.listGroups()
      ctx.stdout.write(names.sort().map(n => n + '\n').join(''))
    })

  groups.command('describe <group>')
    .description('Show a group\'s members, committed offsets and lag per partition.')
    .option('--json', 'print JSON')
    .action(async (group: string, options: { json?: boolean }) => {
      const description = await (await ctx.openLog()).admin.describeGroup(group)
      if (options.json === true) {
        ctx.stdout.write(JSON.stringify(description, null, 2) + '\n')
        return
      }
      ctx.stdout.write(`group ${description.group}  state ${description.state}  members ${description.members.length}  total lag ${description.totalLag}\n`)
      const owner = new Map<string, string>()
      for (const m of description.members) for (const p of m.assignment) owner.set(`${p.topic}:${p.partition}`, m.memberId)
      printTable(ctx.stdout, ['TOPIC', 'PARTITION', 'COMMITTED', 'HIGH', 'LAG', 'MEMBER'],
        description.offsets.map(o => [o.topic, o.partition, o.committedOffset ?? '-', o.highOffset, o.lag, owner.get(`${o.topic}:${o.partition}`) ?? '-']))
    })
  return groups
}
