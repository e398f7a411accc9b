/**
 * `vigil audit`: verify the audit stores, export the checkpoint public key, query and run
 * retention, straight on the stores named by the config (no running server needed).
 */
import { existsSync, readFileSync } from 'node:fs'
import { Command } from 'commander'
import { Registry } from 'prom-client'
import { createAuditMetrics } from '../../audit/metrics.ts'
import { AuditService } from '../../audit/service.ts'
import { resolveAuditConfig } from '../../audit/settings.ts'
import { loadSigningKey, parsePublicKey } from '../../audit/checkpoint.ts'
import { VigilError } from '../../errors.ts'
import { createLogger } from '../../logger.ts'
import type { CommandContext } from '../context.ts'
import { parseIntFlag } from '../main.ts'

export function createAuditCommand (ctx: CommandContext): Command {
  const audit = new Command('audit').description('Verify, query and maintain the audit trail (local NDJSON.gz and S3 Parquet stores).')

  const service = (): AuditService => {
    const config = ctx.config()
    return new AuditService({
      config: resolveAuditConfig(config.audit),
      logger: createLogger({ logging: { level: 'silent' } }),
      metrics: createAuditMetrics(new Registry())
    })
  }

  audit.command('verify')
    .description('Re-read the stores and report every modified, missing, inserted or reordered record with its file and position; exits 1 when any is found.')
    .option('--since <time>', 'only files holding records from this ISO time on (default: everything)')
    .option('--until <time>', 'only files holding records up to this ISO time')
    .option('--public-key <file>', 'PEM public key that checks the checkpoint signatures (default: the configured checkpoint key)')
    .option('--json', 'print the reports as JSON')
    .action(async (options: { since?: string, until?: string, publicKey?: string, json?: boolean }) => {
      const s = service()
      let publicKey
      if (options.publicKey !== undefined) publicKey = parsePublicKey(readFileSync(options.publicKey, 'utf8'))
      else if (s.config.checkpoint.privateKey !== '' || existsSync(s.config.checkpoint.keyFile)) publicKey = s.signingKey.publicKey
      else publicKey = null
      try {
        const reports = await s.verify({ since: options.since, until: options.until, publicKey })
        if (options.json === true) {
          ctx.stdout.write(JSON.stringify({ ok: reports.every(r => r.ok), signaturesChecked: publicKey !== null, reports }, null, 2) + '\n')
        } else {
          for (const r of reports) {
            ctx.stdout.write(`${r.store}: ${r.files} file(s), ${r.records} record(s), ${r.checkpoints} checkpoint(s)${publicKey === null ? ' (signatures not checked: no key)' : ''}: ${r.ok ? 'OK' : `${r.findings.length} problem(s)`}\n`)
            for (const f of r.findings) {
              const where = [f.file, f.position === undefined ? undefined : `position ${f.position}`, f.partition === undefined ? undefined : `partition ${f.partition}`, f.offset === undefined ? undefined : `offset ${f.offset}`].filter(Boolean).join(', ')
              ctx.stdout.write(`  ${f.kind.toUpperCase()}  ${where}: ${f.message}\n`)
            }
          }
        }
        const problems = reports.reduce((n, r) => n + r.findings.length, 0)
        if (problems > 0) throw new VigilError('VGL_AUDIT_TAMPERED', `audit verification found ${problems} problem(s)`, { problems })
      } finally {
        for (const store of s.stores) await store.close()
      }
    })

  audit.command('public-key')
    .description('Print the Ed25519 public key (PEM) that checks the signed checkpoints; creates the key file when missing.')
    .action(() => {
      const c = resolveAuditConfig(ctx.config().audit).checkpoint
      const key = loadSigningKey(c.privateKey, c.keyFile)
      ctx.stdout.write(key.publicKeyPem)
    })

  audit.command('query')
    .description('Query the stores like GET /v1/audit/events; prints one JSON record per line, newest first, and the totals on stderr.')
    .option('--since <time>', 'ISO time (default: until minus window)')
    .option('--until <time>', 'ISO time (default: now)')
    .option('--window <w>', '5m 15m 30m 1h 6h 12h 24h 7d (default 24h)')
    .option('--limit <n>', 'most records', parseIntFlag('--limit', 1))
    .option('--filter <field=value...>', 'CAIPE filters, e.g. --filter type=auth outcome=deny user_email=bob')
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (options: { since?: string, until?: string, window?: string, limit?: number, filter?: string[], cursor?: string }) => {
      const s = service()
      try {
        const params: Record<string, string | undefined> = { since: options.since, until: options.until, window: options.window, limit: options.limit?.toString(), cursor: options.cursor }
        for (const f of options.filter ?? []) {
          const eq = f.indexOf('=')
          if (eq < 1) throw new VigilError('VGL_CLI_USAGE', `--filter takes field=value, got ${JSON.stringify(f)}`, { flag: '--filter' })
          params[f.slice(0, eq)] = f.slice(eq + 1)
        }
        const result = await s.query(params)
        ctx.stdout.write(result.records.map(r => JSON.stringify(r) + '\n').join(''))
        ctx.stderr.write(`${result.records.length} of ${result.total} record(s)${result.next_cursor === null ? '' : `; next page: --cursor ${result.next_cursor}`}\n`)
      } finally {
        for (const store of s.stores) await store.close()
      }
    })

  audit.command('retention')
    .description('Run local retention now (files older than audit.local.retentionDays are deleted and recorded in the ledger).')
    .action(async () => {
      const s = service()
      const deleted = await s.runRetention()
      ctx.stdout.write(`deleted ${deleted} file(s)\n`)
    })
  return audit
}
