/**
 * The audit service's effective settings: Vigil's `audit` config with CAIPE's environment
 * variables (AUDIT_SERVICE_*, AUDIT_LOG_VERBOSITY, AUDIT_SUBJECT_SALT) applied as aliases, parsed
 * the way CAIPE's config.py parses them (a bad integer falls back to the default, a value below
 * the minimum is raised to it, booleans are 1/true/yes/on). An alias is ignored when the matching
 * VIGIL_AUDIT_* variable is set: Vigil's own name wins.
 */
import type { VigilConfig } from '../config/schema.ts'
import { VigilError } from '../errors.ts'

export type AuditConfig = VigilConfig['audit']

interface Alias {
  env: string
  path: string
  kind: 'int' | 'float-seconds-to-ms' | 'bool' | 'string' | 'backend'
  min?: number
  max?: number
}

/** CAIPE's variable → Vigil's key (dotted under `audit`). */
export const caipeAliases: readonly Alias[] = [
  { env: 'AUDIT_SERVICE_BACKEND', path: 'backend', kind: 'backend' },
  { env: 'AUDIT_SERVICE_LOCAL_PATH', path: 'local.path', kind: 'string' },
  { env: 'AUDIT_SERVICE_LOCAL_GZIP', path: 'local.gzip', kind: 'bool' },
  { env: 'AUDIT_SERVICE_LOCAL_RETENTION_DAYS', path: 'local.retentionDays', kind: 'int', min: 1 },
  { env: 'AUDIT_SERVICE_LOCAL_DISK_WARNING_PERCENT', path: 'local.diskWarningPercent', kind: 'int', min: 0, max: 100 },
  { env: 'AUDIT_SERVICE_LOCAL_DISK_CRITICAL_PERCENT', path: 'local.diskCriticalPercent', kind: 'int', min: 0, max: 100 },
  { env: 'AUDIT_SERVICE_S3_BUCKET', path: 's3.bucket', kind: 'string' },
  { env: 'AUDIT_SERVICE_S3_PREFIX', path: 's3.prefix', kind: 'string' },
  { env: 'AUDIT_SERVICE_S3_REGION', path: 's3.region', kind: 'string' },
  { env: 'AUDIT_SERVICE_S3_ENDPOINT_URL', path: 's3.endpointUrl', kind: 'string' },
  { env: 'AUDIT_SERVICE_S3_RETENTION_DAYS', path: 's3.retentionDays', kind: 'int', min: 0 },
  { env: 'AUDIT_SERVICE_QUEUE_MAX_SIZE', path: 'maxBacklogRecords', kind: 'int', min: 1 },
  { env: 'AUDIT_SERVICE_FLUSH_BATCH_SIZE', path: 'flushBatchSize', kind: 'int', min: 1 },
  { env: 'AUDIT_SERVICE_FLUSH_INTERVAL_SECONDS', path: 'flushIntervalMs', kind: 'float-seconds-to-ms', min: 0.001 },
  { env: 'AUDIT_SERVICE_READ_DEFAULT_LIMIT', path: 'read.defaultLimit', kind: 'int', min: 1 },
  { env: 'AUDIT_SERVICE_READ_MAX_LIMIT', path: 'read.maxLimit', kind: 'int', min: 1 },
  { env: 'AUDIT_SERVICE_READ_MAX_DAYS', path: 'read.maxDays', kind: 'int', min: 1 },
  { env: 'AUDIT_LOG_VERBOSITY', path: 'verbosity', kind: 'string' },
  { env: 'AUDIT_SUBJECT_SALT', path: 'subjectSalt', kind: 'string' }
]

/** `local.retentionDays` → `VIGIL_AUDIT_LOCAL_RETENTION_DAYS`. */
function vigilEnvOf (path: string): string {
  return 'VIGIL_AUDIT_' + path.split('.').map(s => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')
}

/** Applies CAIPE's variables found in `env` to a copy of the audit config. */
export function resolveAuditConfig (config: Readonly<AuditConfig>, env: Record<string, string | undefined> = process.env): AuditConfig {
  const out = structuredClone(config) as AuditConfig
  for (const alias of caipeAliases) {
    const text = env[alias.env]
    if (text === undefined || env[vigilEnvOf(alias.path)] !== undefined) continue
    const current = getPath(out, alias.path)
    setPath(out, alias.path, parseAlias(alias, text, current))
  }
  if (out.local.diskCriticalPercent < out.local.diskWarningPercent) out.local.diskCriticalPercent = out.local.diskWarningPercent
  if ((out.backend === 's3' || out.backend === 'both') && out.s3.bucket === '') {
    throw new VigilError('VGL_AUDIT_CONFIG_INVALID', `audit.backend is ${out.backend} but audit.s3.bucket (AUDIT_SERVICE_S3_BUCKET) is empty`, { key: 'audit.s3.bucket' })
  }
  return out
}

function parseAlias (alias: Alias, text: string, current: unknown): unknown {
  const clamp = (n: number): number => Math.min(alias.max ?? Number.POSITIVE_INFINITY, Math.max(alias.min ?? Number.NEGATIVE_INFINITY, n))
  switch (alias.kind) {
    case 'int': {
      const n = /^\s*[-+]?\d+\s*$/.test(text) ? Number.parseInt(text, 10) : Number.NaN
      return clamp(Number.isNaN(n) ? current as number : n)
    }
    case 'float-seconds-to-ms': {
      const seconds = Number.parseFloat(text)
      if (Number.isNaN(seconds) || text.trim() === '') return current
      return Math.max(1, Math.round(clamp(seconds) * 1000))
    }
    case 'bool':
      return ['1', 'true', 'yes', 'on'].includes(text.trim().toLowerCase())
    case 'backend': {
      const value = text.trim().toLowerCase()
      if (value === 'local' || value === 's3' || value === 'both') return value
      throw new VigilError('VGL_AUDIT_CONFIG_INVALID', `AUDIT_SERVICE_BACKEND must be local or s3 (or both), got ${JSON.stringify(text)}`, { variable: alias.env })
    }
    default:
      return text
  }
}

function getPath (target: unknown, path: string): unknown {
  let node = target
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part]
  return node
}

function setPath (target: unknown, path: string, value: unknown): void {
  const parts = path.split('.')
  let node = target as Record<string, unknown>
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>
  node[parts[parts.length - 1] as string] = value
}
