/**
 * The registry's state as a pure state machine over the records of the `_schemas` topic. Every
 * Vigil process applies the same records in the same (offset) order with the same rules, so all
 * of them agree, whichever wrote what.
 *
 * Records (key and value are JSON; the topic is compacted, one partition):
 * - SCHEMA   key {keytype, subject, version, magic, writer} → {subject, version, id, schemaType,
 *            schema, deleted}; null = permanently deleted. `writer` is unique per registration, so a
 *            registration that lost a race never shadows the winner under compaction.
 * - CONFIG   key {keytype, subject|null, magic} → {compatibilityLevel}; null = removed.
 * - MODE     key {keytype, subject|null, magic} → {mode}; null = removed.
 * - ID_WATERMARK key {keytype, magic} → {maxId}: ids are never handed out twice, even after
 *            the schema holding the highest id is permanently deleted and compacted away.
 *
 * Conflict rule (optimistic concurrency): a SCHEMA record is *ignored* when its subject+version is
 * already held under another key, when its id already names a different schema, when its schema
 * already has a different id, or when the subject already holds the same schema live. The first
 * record written wins; ignored records are remembered so that writers tombstone them.
 */
import { fingerprintOf } from './parse.ts'
import { isCompatibilityLevel, isRegistryMode, type CompatibilityLevel, type RegistryMode, type SchemaType } from './types.ts'

export interface VersionEntry {
  subject: string
  version: number
  id: number
  deleted: boolean
  /** The record key (JSON text) this version lives under. */
  key: string
}

export interface SchemaEntry {
  id: number
  schemaType: SchemaType
  /** Normalised schema text, as served by GET /schemas/ids/{id}. */
  schema: string
  fingerprint: string
  /** Version entries (live or soft-deleted) that use this schema. */
  references: number
}

export interface SchemaRecordValue {
  subject: string
  version: number
  id: number
  schemaType: SchemaType
  schema: string
  deleted: boolean
}

export type RecordKey =
  | { keytype: 'SCHEMA', subject: string, version: number, magic: 1, writer: string }
  | { keytype: 'CONFIG', subject: string | null, magic: 0 }
  | { keytype: 'MODE', subject: string | null, magic: 0 }
  | { keytype: 'ID_WATERMARK', magic: 0 }
  | { keytype: 'NOOP', magic: 0 }

export function encodeKey (key: RecordKey): string {
  switch (key.keytype) {
    case 'SCHEMA':
      return JSON.stringify({ keytype: 'SCHEMA', subject: key.subject, version: key.version, magic: 1, writer: key.writer })
    case 'CONFIG':
    case 'MODE':
      return JSON.stringify({ keytype: key.keytype, subject: key.subject, magic: 0 })
    default:
      return JSON.stringify({ keytype: key.keytype, magic: 0 })
  }
}

export class RegistryState {
  readonly subjects = new Map<string, Map<number, VersionEntry>>()
  readonly schemas = new Map<number, SchemaEntry>()
  readonly idByFingerprint = new Map<string, number>()
  readonly subjectConfig = new Map<string, CompatibilityLevel>()
  readonly subjectMode = new Map<string, RegistryMode>()
  globalConfig: CompatibilityLevel | undefined
  globalMode: RegistryMode | undefined
  /** Highest id ever seen (records and watermarks). */
  maxId = 0
  /** Keys of SCHEMA records that lost a race and still wait for their tombstone. */
  readonly ignoredKeys = new Set<string>()
  /** Records that could not be understood (kept for diagnostics, never fatal). */
  skipped = 0

  /** Applies one record; never throws. Returns 'applied', 'ignored' or 'skipped'. */
  apply (keyBytes: Buffer | null, valueBytes: Buffer | null): 'applied' | 'ignored' | 'skipped' {
    if (keyBytes === null) return this.#skip()
    let key: Record<string, unknown>
    let value: Record<string, unknown> | null
    try {
      key = JSON.parse(keyBytes.toString('utf8')) as Record<string, unknown>
      value = valueBytes === null ? null : JSON.parse(valueBytes.toString('utf8')) as Record<string, unknown>
    } catch {
      return this.#skip()
    }
    if (typeof key !== 'object' || key === null) return this.#skip()
    const subject = key.subject
    switch (key.keytype) {
      case 'SCHEMA':
        return this.#applySchema(keyBytes.toString('utf8'), key, value)
      case 'CONFIG': {
        if (subject !== null && typeof subject !== 'string') return this.#skip()
        const level = value?.compatibilityLevel
        if (value !== null && !isCompatibilityLevel(level)) return this.#skip()
        if (subject === null) this.globalConfig = value === null ? undefined : level as CompatibilityLevel
        else if (value === null) this.subjectConfig.delete(subject)
        else this.subjectConfig.set(subject, level as CompatibilityLevel)
        return 'applied'
      }
      case 'MODE': {
        if (subject !== null && typeof subject !== 'string') return this.#skip()
        const mode = value?.mode
        if (value !== null && !isRegistryMode(mode)) return this.#skip()
        if (subject === null) this.globalMode = value === null ? undefined : mode as RegistryMode
        else if (value === null) this.subjectMode.delete(subject)
        else this.subjectMode.set(subject, mode as RegistryMode)
        return 'applied'
      }
      case 'ID_WATERMARK':
        if (value !== null && Number.isSafeInteger(value.maxId)) this.maxId = Math.max(this.maxId, value.maxId as number)
        return 'applied'
      case 'NOOP':
        return 'applied'
      default:
        return this.#skip()
    }
  }

  #skip (): 'skipped' {
    this.skipped++
    return 'skipped'
  }

  #applySchema (keyText: string, key: Record<string, unknown>, value: Record<string, unknown> | null): 'applied' | 'ignored' | 'skipped' {
    const subject = key.subject
    const version = key.version
    if (typeof subject !== 'string' || !Number.isSafeInteger(version)) return this.#skip()
    const versions = this.subjects.get(subject)
    const existing = versions?.get(version as number)
    if (value === null) {
      this.ignoredKeys.delete(keyText)
      if (existing === undefined || existing.key !== keyText) return 'ignored'
      this.#removeVersion(existing)
      return 'applied'
    }
    const parsed = parseSchemaValue(value)
    if (parsed === null || parsed.subject !== subject || parsed.version !== version) return this.#skip()
    const fingerprint = fingerprintOf(parsed.schemaType, parsed.schema)
    if (existing !== undefined) {
      if (existing.key !== keyText || existing.id !== parsed.id) {
        if (existing.key !== keyText) this.ignoredKeys.add(keyText)
        return 'ignored'
      }
      existing.deleted = parsed.deleted
      return 'applied'
    }
    const holder = this.schemas.get(parsed.id)
    const idOfFingerprint = this.idByFingerprint.get(fingerprint)
    const duplicate = versions !== undefined && [...versions.values()].some(v => !v.deleted && !parsed.deleted && v.id === idOfFingerprint)
    if ((holder !== undefined && holder.fingerprint !== fingerprint) ||
        (idOfFingerprint !== undefined && idOfFingerprint !== parsed.id) ||
        duplicate) {
      this.ignoredKeys.add(keyText)
      return 'ignored'
    }
    const entry: VersionEntry = { subject, version: version as number, id: parsed.id, deleted: parsed.deleted, key: keyText }
    if (versions === undefined) this.subjects.set(subject, new Map([[entry.version, entry]]))
    else versions.set(entry.version, entry)
    if (holder === undefined) {
      this.schemas.set(parsed.id, { id: parsed.id, schemaType: parsed.schemaType, schema: parsed.schema, fingerprint, references: 1 })
      this.idByFingerprint.set(fingerprint, parsed.id)
    } else {
      holder.references++
    }
    this.maxId = Math.max(this.maxId, parsed.id)
    return 'applied'
  }

  #removeVersion (entry: VersionEntry): void {
    const versions = this.subjects.get(entry.subject)
    versions?.delete(entry.version)
    if (versions !== undefined && versions.size === 0) this.subjects.delete(entry.subject)
    const schema = this.schemas.get(entry.id)
    if (schema !== undefined && --schema.references <= 0) {
      this.schemas.delete(entry.id)
      this.idByFingerprint.delete(schema.fingerprint)
    }
  }

  // ---- queries -----------------------------------------------------------------------------

  versionsOf (subject: string, includeDeleted: boolean): VersionEntry[] {
    const versions = this.subjects.get(subject)
    if (versions === undefined) return []
    return [...versions.values()].filter(v => includeDeleted || !v.deleted).sort((a, b) => a.version - b.version)
  }

  hasSubject (subject: string, includeDeleted: boolean): boolean {
    return this.versionsOf(subject, includeDeleted).length > 0
  }

  /** The next version number of a subject: one more than the highest, soft-deleted included. */
  nextVersion (subject: string): number {
    const versions = this.subjects.get(subject)
    if (versions === undefined || versions.size === 0) return 1
    return Math.max(...versions.keys()) + 1
  }

  isEmpty (): boolean {
    return this.subjects.size === 0
  }
}

function parseSchemaValue (value: Record<string, unknown>): SchemaRecordValue | null {
  const { subject, version, id, schema } = value
  const schemaType = value.schemaType ?? 'AVRO'
  if (typeof subject !== 'string' || !Number.isSafeInteger(version) || !Number.isSafeInteger(id) || typeof schema !== 'string') return null
  if (schemaType !== 'AVRO' && schemaType !== 'JSON') return null
  return { subject, version: version as number, id: id as number, schemaType, schema, deleted: value.deleted === true }
}
