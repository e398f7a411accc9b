/**
 * The CLI's part of Vigil's own audit trail: a command that changed something on the log
 * directly (a redrive, a topic or schema change, retention) is recorded there, with the OS user
 * as actor, whether it worked or not. Commands that went through a server are recorded by it.
 */
import { userInfo } from 'node:os'
import type { Command } from 'commander'
import type { VigilConfig } from '../config/schema.ts'
import { actionEvent } from '../access/index.ts'
import { appendAuditEvents } from '../audit/index.ts'
import type { Log } from '../log/types.ts'

/** Command paths that change state, and when (a dry run or a plain read does not). */
const actions: Record<string, (options: Record<string, unknown>) => boolean> = {
  'dlq redrive': options => options.dryRun !== true,
  'topics create': () => true,
  'topics delete': () => true,
  'schemas register': () => true,
  'schemas delete': () => true,
  'schemas config': options => options.level !== undefined || options.delete === true,
  'audit retention': () => true,
  'vigil apply': () => true
}

export function isAction (command: Command): boolean {
  const path = `${command.parent?.name() ?? ''} ${command.name()}`
  return actions[path]?.(command.opts()) ?? false
}

export async function recordCliAction (log: Log, config: Readonly<VigilConfig>, command: Command, error: unknown): Promise<void> {
  if (!config.access.selfAudit) return
  const path = `${command.parent?.name() ?? ''} ${command.name()}`
  const event = actionEvent({
    actor: `os:${safeUser()}`,
    action: `cli: vigil ${path}`,
    resource: command.args.join(' ') || undefined,
    outcome: error === undefined ? 'success' : 'failure',
    source: 'cli',
    reason: error === undefined ? undefined : (error as { code?: string }).code ?? 'error',
    detail: { options: command.opts() }
  })
  await appendAuditEvents(log, { topic: config.audit.topic, partitions: config.audit.partitions }, [event])
}

function safeUser (): string {
  try {
    return userInfo().username
  } catch {
    return `uid-${process.getuid?.() ?? 'unknown'}`
  }
}
