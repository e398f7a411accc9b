/**
 * The response shapes of CAIPE's `GET /v1/audit/verbosity`, `/storage` and `/retention`, which
 * CAIPE's admin UI and its API tests read field by field. Kept apart from the service so that
 * the shapes (and the preset labels the UI shows) are in one place.
 */
import { verbosityPresets } from './record.ts'

/** CAIPE's verbosity.py PRESET_LABELS: what the admin UI shows for each preset. */
export const presetLabels: Readonly<Record<string, string>> = Object.freeze({
  minimal: 'Minimal — policy changes only',
  standard: 'Standard — policy + access decisions + auth',
  verbose: 'Verbose — all event types',
  il2: 'IL2 — DoD Impact Level 2',
  il5: 'IL5 — DoD Impact Level 5 (all events)',
  soc2: 'SOC 2 — SOC 2 Type II compliance'
})

/** CAIPE's verbosity.py PRESET_DESCRIPTIONS. */
export const presetDescriptions: Readonly<Record<string, string>> = Object.freeze({
  minimal: 'Records cas_grant and cas_reconcile only. Lowest volume; captures policy changes.',
  standard: 'Records policy changes, access decisions, credential ops, and auth events.',
  verbose: 'Records all event types. Equivalent to the historic default.',
  il2: 'Captures auth, policy changes, access decisions, and credential actions per IL2.',
  il5: 'Full audit trail required for high-sensitivity IL5 environments.',
  soc2: 'Captures auth, policy changes, access decisions, credentials, and agent delegation for SOC 2.'
})

// CAIPE lists the presets in its dict's order, which the UI keeps in its picker.
const presetOrder = ['minimal', 'standard', 'verbose', 'il2', 'il5', 'soc2'] as const

interface PresetInfo {
  name: string
  label: string
  description: string
  allowed_types: string[]
  allow_all: boolean
}

function presetInfo (name: string): PresetInfo {
  const types = verbosityPresets[name] ?? null
  return {
    name,
    label: presetLabels[name] ?? name,
    description: presetDescriptions[name] ?? '',
    // CAIPE gives [] (not null) for a preset that keeps every type; allow_all says which.
    allowed_types: types === null ? [] : [...types].sort(),
    allow_all: types === null
  }
}

/**
 * `GET /v1/audit/verbosity`: CAIPE's fields, plus Vigil's `all_types` and `presets` (a name →
 * types map, null for all) kept for Vigil's own clients. An unknown preset keeps every type and
 * is labelled with its own name, as CAIPE does.
 */
export function verbosityResponse (configured: string): Record<string, unknown> {
  const name = configured.trim().toLowerCase()
  const { allowed_types: allowedTypes, allow_all: allowAll } = presetInfo(name)
  return {
    verbosity: configured,
    label: presetLabels[name] ?? configured,
    description: presetDescriptions[name] ?? '',
    allowed_types: allowedTypes,
    allow_all: allowAll,
    available_presets: presetOrder.map(presetInfo),
    all_types: allowAll,
    presets: Object.fromEntries(presetOrder.map(p => [p, presetInfo(p).allow_all ? null : presetInfo(p).allowed_types]))
  }
}

/** CAIPE's `_format_bytes`: "512 B", "1.5 KiB", … "2.0 TiB". */
export function formatBytes (value: number): string {
  let amount = value
  for (const unit of ['B', 'KiB', 'MiB', 'GiB']) {
    if (amount < 1024) return unit === 'B' ? `${Math.trunc(amount)} B` : `${amount.toFixed(1)} ${unit}`
    amount /= 1024
  }
  return `${amount.toFixed(1)} TiB`
}

/** CAIPE's note for a local store, whose retention only a restart changes. */
export const localRetentionNote = 'Set AUDIT_SERVICE_LOCAL_RETENTION_DAYS (audit.local.retentionDays) and restart to change.'
/** CAIPE's note after PUT /v1/audit/retention. */
export const s3RetentionUpdatedNote = 'S3 lifecycle rule updated. Objects created before this change are not affected.'
