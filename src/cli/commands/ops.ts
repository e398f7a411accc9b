import { Command } from 'commander'
import { VigilError } from '../../errors.ts'
import { applyPlan, describeChange, formatPlan, loadDesiredState, openOpsTarget, planChanges } from '../../ops/index.ts'
import type { CommandContext } from '../context.ts'

/** `vigil plan <file>`: what apply would change; exit 2 (VGL_OPS_DRIFT) when anything would. */
export function createPlanCommand (ctx: CommandContext): Command {
  return new Command('plan')
    .description('Compare the log (topics, configs, partitions, ACLs, SCRAM users, schemas) with a desired-state file and print what apply would change. Exits 2 when there is drift.')
    .argument('<file>', 'desired-state file (YAML or JSON), see docs/operations.md')
    .option('--json', 'print the plan as JSON')
    .action(async (file: string, options: { json?: boolean }) => {
      const state = loadDesiredState(file)
      const target = await openOpsTarget(ctx.config(), await ctx.openLog())
      try {
        const plan = await planChanges(state, target)
        ctx.stdout.write(options.json === true ? JSON.stringify(plan, null, 2) + '\n' : formatPlan(plan))
        if (plan.changes.length > 0) {
          throw new VigilError('VGL_OPS_DRIFT', `${plan.changes.length} change(s) to make on the ${plan.target} target`, { changes: plan.changes.length })
        }
      } finally {
        await target.close()
      }
    })
}

/** `vigil apply <file>`: makes the plan's changes; a second run changes nothing. */
export function createApplyCommand (ctx: CommandContext): Command {
  return new Command('apply')
    .description('Make the log match a desired-state file. Refuses destructive changes unless --allow-delete allows them; never removes partitions.')
    .argument('<file>', 'desired-state file (YAML or JSON), see docs/operations.md')
    .option('--allow-delete', 'also remove ACLs the file no longer grants to its services')
    .option('--json', 'print the changes made as JSON')
    .action(async (file: string, options: { allowDelete?: boolean, json?: boolean }) => {
      const state = loadDesiredState(file)
      const target = await openOpsTarget(ctx.config(), await ctx.openLog())
      try {
        const plan = await planChanges(state, target)
        const done = await applyPlan(plan, state, target, {
          allowDelete: options.allowDelete === true,
          onChange: options.json === true ? undefined : change => { ctx.stdout.write(`  done: ${describeChange(change)}\n`) }
        })
        if (options.json === true) ctx.stdout.write(JSON.stringify({ file, target: plan.target, applied: done }, null, 2) + '\n')
        else ctx.stdout.write(done.length === 0 ? `no changes: the ${plan.target} target already matches ${file}\n` : `applied ${done.length} change(s) from ${file}\n`)
      } finally {
        await target.close()
      }
    })
}
