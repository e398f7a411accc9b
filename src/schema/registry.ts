/**
 * Vigil's own schema registry: Confluent semantics, state kept in memory and persisted on the log
 * in a compacted `_schemas` topic (one partition), so it survives restarts, works the same on the
 * embedded log and on Kafka, and several Vigil processes on one Kafka cluster share it.
 *
 * Reads catch up with the topic when the in-memory state is older than `maxStalenessMs` (and
 * always before a write, or when an id or subject is unknown). Writes are optimistic: decide on
 * the caught-up state, produce, read back past the record just written, and check that it won
 * (the first record written wins; see registry-state.ts). A loser retries on the new state.
 */
import { randomUUID } from 'node:crypto'
import { VigilError, isVigilError } from '../errors.ts'
import type { Log, ProduceRecord } from '../log/types.ts'
import { checkLevel, type LevelCheckResult, type PreviousVersion } from './compatibility.ts'
import { parseSchema, defaultMaxSchemaBytes, type ParsedSchema } from './parse.ts'
import { RegistryState, encodeKey, type RecordKey, type SchemaEntry, type SchemaRecordValue, type VersionEntry } from './registry-state.ts'
import {
  allowedSchemaTypes, isCompatibilityLevel, isRegistryMode,
  type CompatibilityLevel, type CompatibilityResult, type DeletedOption, type RegistryMode, type SchemaById,
  type SchemaInput, type SchemaRegistryApi, type SchemaType, type SubjectVersion, type VersionSelector
} from './types.ts'

export interface LogSchemaRegistryOptions {
  log: Log
  /** Compacted topic holding the state (default `_schemas`). */
  topic?: string
  /** Level until PUT /config sets one (default BACKWARD). */
  defaultCompatibility?: CompatibilityLevel
  maxSchemaBytes?: number
  /** Reads catch up with the topic when the state is older than this (default 250 ms). */
  maxStalenessMs?: number
  /** Replication factor of the `_schemas` topic when Vigil creates it (Kafka; default 1). */
  replicationFactor?: number
  /** Attempts when concurrent writers keep winning (default 8). */
  maxWriteAttempts?: number
  /** How long to wait for a record just produced to become readable (default 10 s). */
  readBackTimeoutMs?: number
}

export const defaultLogSchemaRegistryOptions = Object.freeze({
  topic: '_schemas',
  defaultCompatibility: 'BACKWARD' as CompatibilityLevel,
  maxSchemaBytes: defaultMaxSchemaBytes,
  maxStalenessMs: 250,
  replicationFactor: 1,
  maxWriteAttempts: 8,
  readBackTimeoutMs: 10_000
})

const readPageSize = 1000
const subjectPattern = /[\u0000-\u001f\u007f-\u009f]/ // eslint-disable-line no-control-regex

export class LogSchemaRegistry implements SchemaRegistryApi {
  readonly #log: Log
  readonly #options: Required<Omit<LogSchemaRegistryOptions, 'log'>>
  readonly #state = new RegistryState()
  readonly #parsed = new Map<number, ParsedSchema>()
  #nextOffset = 0
  #lastCatchUp = 0
  /** When the last finished catch-up started reading. */
  #lastCatchUpStarted = 0
  #lock: Promise<unknown> = Promise.resolve()
  #started = false
  #closed = false

  constructor (options: LogSchemaRegistryOptions) {
    this.#log = options.log
    this.#options = {
      topic: options.topic ?? defaultLogSchemaRegistryOptions.topic,
      defaultCompatibility: options.defaultCompatibility ?? defaultLogSchemaRegistryOptions.defaultCompatibility,
      maxSchemaBytes: options.maxSchemaBytes ?? defaultLogSchemaRegistryOptions.maxSchemaBytes,
      maxStalenessMs: options.maxStalenessMs ?? defaultLogSchemaRegistryOptions.maxStalenessMs,
      replicationFactor: options.replicationFactor ?? defaultLogSchemaRegistryOptions.replicationFactor,
      maxWriteAttempts: options.maxWriteAttempts ?? defaultLogSchemaRegistryOptions.maxWriteAttempts,
      readBackTimeoutMs: options.readBackTimeoutMs ?? defaultLogSchemaRegistryOptions.readBackTimeoutMs
    }
  }

  get topic (): string { return this.#options.topic }

  /** Creates the `_schemas` topic when missing and rebuilds the state from its beginning. */
  async start (): Promise<void> {
    if (this.#started) return
    await this.#store(async () => {
      await this.#log.admin.ensureTopic({
        name: this.#options.topic,
        partitions: 1,
        replicationFactor: this.#options.replicationFactor,
        cleanupPolicy: 'compact',
        retentionMs: -1,
        retentionBytes: -1
      })
    })
    await this.#exclusive(() => this.#catchUp())
    this.#started = true
  }

  async close (): Promise<void> {
    this.#closed = true
    await this.#lock.catch(() => {})
  }

  // ---- subjects and versions -----------------------------------------------------------------

  async listSubjects (options: DeletedOption & { prefix?: string } = {}): Promise<string[]> {
    await this.#refresh()
    const prefix = options.prefix ?? ''
    return [...this.#state.subjects.keys()]
      .filter(s => s.startsWith(prefix) && this.#state.hasSubject(s, options.deleted === true))
      .sort()
  }

  async lookup (subject: string, input: SchemaInput, options: DeletedOption = {}): Promise<SubjectVersion> {
    checkSubject(subject)
    const parsed = parseSchema(input, this.#options.maxSchemaBytes)
    await this.#refresh()
    let versions = this.#state.versionsOf(subject, options.deleted === true)
    if (versions.length === 0) {
      await this.#refresh(true)
      versions = this.#state.versionsOf(subject, options.deleted === true)
    }
    if (versions.length === 0) throw subjectNotFound(subject)
    const id = this.#state.idByFingerprint.get(parsed.fingerprint)
    const match = id === undefined ? undefined : versions.filter(v => v.id === id).pop()
    if (match === undefined) throw new VigilError('VGL_SCHEMA_NOT_FOUND', 'Schema not found', { subject })
    return this.#subjectVersion(match)
  }

  async register (subject: string, input: SchemaInput & { id?: number, version?: number }): Promise<{ id: number }> {
    checkSubject(subject)
    const parsed = parseSchema(input, this.#options.maxSchemaBytes)
    return await this.#exclusive(async () => {
      for (let attempt = 0; attempt < this.#options.maxWriteAttempts; attempt++) {
        await this.#catchUp()
        const mode = this.#effectiveMode(subject)
        if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE') {
          throw new VigilError('VGL_SCHEMA_OPERATION_NOT_PERMITTED', `Subject ${subject} is in read-only mode`, { subject, mode })
        }
        const live = this.#state.versionsOf(subject, false)
        const knownId = this.#state.idByFingerprint.get(parsed.fingerprint)
        const existing = knownId === undefined ? undefined : live.find(v => v.id === knownId)
        if (existing !== undefined) {
          if (input.id !== undefined && input.id !== existing.id) {
            throw new VigilError('VGL_SCHEMA_ID_CONFLICT', `Schema already registered with id ${existing.id} instead of input id ${input.id}`, { subject, id: existing.id })
          }
          return { id: existing.id }
        }
        if (mode !== 'IMPORT') {
          const level = this.#effectiveLevel(subject)
          const result = this.#checkAgainst(level, parsed, live)
          if (!result.compatible) {
            throw new VigilError('VGL_SCHEMA_INCOMPATIBLE',
              `Schema being registered is incompatible with an earlier schema for subject "${subject}", details: [${result.messages.join(', ')}]`,
              { subject, compatibility: level, problems: result.problems.map(p => ({ errorType: p.type, field: p.field, oldSchemaVersion: p.version, message: p.message })) })
          }
        }
        const id = this.#chooseId(parsed, input.id, mode)
        const version = this.#chooseVersion(subject, input.version, mode)
        const key: RecordKey = { keytype: 'SCHEMA', subject, version, magic: 1, writer: randomUUID() }
        const keyText = encodeKey(key)
        const value: SchemaRecordValue = { subject, version, id, schemaType: parsed.schemaType, schema: parsed.normalized, deleted: false }
        const records: ProduceRecord[] = [{ key: Buffer.from(keyText), value: Buffer.from(JSON.stringify(value)) }]
        if (id > this.#state.maxId) {
          records.push({ key: Buffer.from(encodeKey({ keytype: 'ID_WATERMARK', magic: 0 })), value: Buffer.from(JSON.stringify({ maxId: id })) })
        }
        await this.#produceAndApply(records)
        const entry = this.#state.subjects.get(subject)?.get(version)
        if (entry?.key === keyText) {
          this.#parsed.set(id, parsed)
          return { id }
        }
        // Lost the race: someone else wrote first. Our record is ignored by everyone and
        // tombstoned by #produceAndApply; decide again on the new state.
      }
      throw new VigilError('VGL_SCHEMA_STORE_CONFLICT', `Could not register under subject ${subject}: concurrent writers kept winning`, { subject })
    })
  }

  async listVersions (subject: string, options: DeletedOption = {}): Promise<number[]> {
    const versions = await this.#versionsOrThrow(subject, options.deleted === true)
    return versions.map(v => v.version)
  }

  async getVersion (subject: string, version: VersionSelector, options: DeletedOption = {}): Promise<SubjectVersion> {
    checkVersion(version)
    const versions = await this.#versionsOrThrow(subject, options.deleted === true)
    const entry = version === 'latest' ? versions[versions.length - 1] : versions.find(v => v.version === version)
    if (entry === undefined) throw versionNotFound(subject, version)
    return this.#subjectVersion(entry)
  }

  async getSchemaById (id: number): Promise<SchemaById> {
    const entry = await this.#schemaOrThrow(id)
    return { schema: entry.schema, schemaType: entry.schemaType }
  }

  async getVersionsById (id: number, options: DeletedOption = {}): Promise<Array<{ subject: string, version: number }>> {
    await this.#schemaOrThrow(id)
    const out: Array<{ subject: string, version: number }> = []
    for (const [subject, versions] of this.#state.subjects) {
      for (const v of versions.values()) {
        if (v.id === id && (options.deleted === true || !v.deleted)) out.push({ subject, version: v.version })
      }
    }
    return out.sort((a, b) => a.subject.localeCompare(b.subject) || a.version - b.version)
  }

  /** Subjects (live) that hold the schema of this id. */
  async getSubjectsById (id: number, options: DeletedOption = {}): Promise<string[]> {
    return [...new Set((await this.getVersionsById(id, options)).map(v => v.subject))]
  }

  /** Every live schema version, as GET /schemas lists them. */
  async listSchemas (options: DeletedOption & { subjectPrefix?: string, latestOnly?: boolean } = {}): Promise<SubjectVersion[]> {
    await this.#refresh()
    const out: SubjectVersion[] = []
    for (const subject of [...this.#state.subjects.keys()].sort()) {
      if (options.subjectPrefix !== undefined && !subject.startsWith(options.subjectPrefix)) continue
      const versions = this.#state.versionsOf(subject, options.deleted === true)
      for (const v of options.latestOnly === true ? versions.slice(-1) : versions) out.push(this.#subjectVersion(v))
    }
    return out
  }

  async deleteSubject (subject: string, options: { permanent?: boolean } = {}): Promise<number[]> {
    checkSubject(subject)
    return await this.#exclusive(async () => {
      await this.#catchUp()
      this.#checkWritable(subject)
      const all = this.#state.versionsOf(subject, true)
      if (all.length === 0) throw subjectNotFound(subject)
      const live = all.filter(v => !v.deleted)
      if (options.permanent === true) {
        if (live.length > 0) {
          throw new VigilError('VGL_SCHEMA_SUBJECT_NOT_SOFT_DELETED', `Subject '${subject}' was not deleted first before being permanently deleted`, { subject })
        }
        const records: ProduceRecord[] = all.map(v => ({ key: Buffer.from(v.key), value: null }))
        if (this.#state.subjectConfig.has(subject)) records.push({ key: Buffer.from(encodeKey({ keytype: 'CONFIG', subject, magic: 0 })), value: null })
        if (this.#state.subjectMode.has(subject)) records.push({ key: Buffer.from(encodeKey({ keytype: 'MODE', subject, magic: 0 })), value: null })
        await this.#produceAndApply(records)
        return all.map(v => v.version)
      }
      if (live.length === 0) {
        throw new VigilError('VGL_SCHEMA_SUBJECT_SOFT_DELETED', `Subject '${subject}' was soft deleted. Set permanent=true to delete permanently`, { subject })
      }
      await this.#produceAndApply(live.map(v => this.#versionRecord(v, true)))
      return live.map(v => v.version)
    })
  }

  async deleteVersion (subject: string, version: VersionSelector, options: { permanent?: boolean } = {}): Promise<number> {
    checkSubject(subject)
    checkVersion(version)
    return await this.#exclusive(async () => {
      await this.#catchUp()
      this.#checkWritable(subject)
      const all = this.#state.versionsOf(subject, true)
      if (all.length === 0) throw subjectNotFound(subject)
      const permanent = options.permanent === true
      let entry: VersionEntry | undefined
      if (version === 'latest') {
        const candidates = permanent ? all : all.filter(v => !v.deleted)
        entry = candidates[candidates.length - 1]
      } else {
        entry = all.find(v => v.version === version)
      }
      if (entry === undefined) throw versionNotFound(subject, version)
      if (permanent) {
        if (!entry.deleted) {
          throw new VigilError('VGL_SCHEMA_VERSION_NOT_SOFT_DELETED',
            `Subject '${subject}' Version ${entry.version} was not deleted first before being permanently deleted`, { subject, version: entry.version })
        }
        await this.#produceAndApply([{ key: Buffer.from(entry.key), value: null }])
        return entry.version
      }
      if (entry.deleted) {
        throw new VigilError('VGL_SCHEMA_VERSION_SOFT_DELETED',
          `Subject '${subject}' Version ${entry.version} was soft deleted. Set permanent=true to delete permanently`, { subject, version: entry.version })
      }
      await this.#produceAndApply([this.#versionRecord(entry, true)])
      return entry.version
    })
  }

  // ---- config and mode ------------------------------------------------------------------------

  async getConfig (subject: string | null, options: { defaultToGlobal?: boolean } = {}): Promise<CompatibilityLevel> {
    await this.#refresh()
    if (subject === null) return this.#state.globalConfig ?? this.#options.defaultCompatibility
    const level = this.#state.subjectConfig.get(subject)
    if (level !== undefined) return level
    if (options.defaultToGlobal === true) return this.#state.globalConfig ?? this.#options.defaultCompatibility
    throw new VigilError('VGL_SCHEMA_SUBJECT_CONFIG_NOT_FOUND', `Subject '${subject}' does not have subject-level compatibility configured`, { subject })
  }

  async setConfig (subject: string | null, level: CompatibilityLevel): Promise<CompatibilityLevel> {
    if (subject !== null) checkSubject(subject)
    const checked = checkLevelValue(level)
    await this.#exclusive(async () => {
      await this.#catchUp()
      await this.#produceAndApply([{
        key: Buffer.from(encodeKey({ keytype: 'CONFIG', subject, magic: 0 })),
        value: Buffer.from(JSON.stringify({ compatibilityLevel: checked }))
      }])
    })
    return checked
  }

  async deleteConfig (subject: string | null): Promise<CompatibilityLevel> {
    return await this.#exclusive(async () => {
      await this.#catchUp()
      const previous = subject === null ? this.#state.globalConfig ?? this.#options.defaultCompatibility : this.#state.subjectConfig.get(subject)
      if (previous === undefined) {
        if (subject !== null && !this.#state.hasSubject(subject, true)) throw subjectNotFound(subject)
        throw new VigilError('VGL_SCHEMA_SUBJECT_CONFIG_NOT_FOUND', `Subject '${subject ?? ''}' does not have subject-level compatibility configured`, { subject })
      }
      await this.#produceAndApply([{ key: Buffer.from(encodeKey({ keytype: 'CONFIG', subject, magic: 0 })), value: null }])
      return previous
    })
  }

  async checkCompatibility (subject: string, version: VersionSelector | 'all', input: SchemaInput): Promise<CompatibilityResult> {
    checkSubject(subject)
    if (version !== 'all') checkVersion(version)
    const parsed = parseSchema(input, this.#options.maxSchemaBytes)
    await this.#refresh()
    const live = this.#state.versionsOf(subject, false)
    const level = this.#effectiveLevel(subject)
    let result: LevelCheckResult
    if (version === 'all') {
      // As Confluent does: the level decides the versions, so a non-transitive level checks the
      // latest live version only and a *_TRANSITIVE one every live version (checkLevel slices).
      result = this.#checkAgainst(level, parsed, live)
    } else {
      if (live.length === 0) {
        if (version === 'latest') return { isCompatible: true, messages: [] }
        throw subjectNotFound(subject)
      }
      const entry = version === 'latest' ? live[live.length - 1] : live.find(v => v.version === version)
      if (entry === undefined) throw versionNotFound(subject, version)
      result = this.#checkAgainst(level, parsed, [entry])
    }
    return { isCompatible: result.compatible, messages: result.messages }
  }

  async getMode (subject: string | null, options: { defaultToGlobal?: boolean } = {}): Promise<RegistryMode> {
    await this.#refresh()
    if (subject === null) return this.#state.globalMode ?? 'READWRITE'
    const mode = this.#state.subjectMode.get(subject)
    if (mode !== undefined) return mode
    if (options.defaultToGlobal === true) return this.#state.globalMode ?? 'READWRITE'
    throw new VigilError('VGL_SCHEMA_SUBJECT_MODE_NOT_FOUND', `Subject '${subject}' does not have subject-level mode configured`, { subject })
  }

  async setMode (subject: string | null, mode: RegistryMode, options: { force?: boolean } = {}): Promise<RegistryMode> {
    if (subject !== null) checkSubject(subject)
    if (!isRegistryMode(mode)) {
      throw new VigilError('VGL_SCHEMA_MODE_INVALID', `Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE, IMPORT (got ${JSON.stringify(mode)})`, { mode })
    }
    await this.#exclusive(async () => {
      await this.#catchUp()
      if (mode === 'IMPORT' && options.force !== true) {
        const empty = subject === null ? this.#state.isEmpty() : !this.#state.hasSubject(subject, true)
        if (!empty) {
          throw new VigilError('VGL_SCHEMA_OPERATION_NOT_PERMITTED', `Cannot import since found existing subjects${subject === null ? '' : ` (${subject})`}; set force=true to import anyway`, { subject })
        }
      }
      await this.#produceAndApply([{
        key: Buffer.from(encodeKey({ keytype: 'MODE', subject, magic: 0 })),
        value: Buffer.from(JSON.stringify({ mode }))
      }])
    })
    return mode
  }

  async deleteMode (subject: string): Promise<RegistryMode> {
    checkSubject(subject)
    return await this.#exclusive(async () => {
      await this.#catchUp()
      const previous = this.#state.subjectMode.get(subject)
      if (previous === undefined) {
        throw new VigilError('VGL_SCHEMA_SUBJECT_MODE_NOT_FOUND', `Subject '${subject}' does not have subject-level mode configured`, { subject })
      }
      await this.#produceAndApply([{ key: Buffer.from(encodeKey({ keytype: 'MODE', subject, magic: 0 })), value: null }])
      return previous
    })
  }

  async schemaTypes (): Promise<SchemaType[]> {
    return [...allowedSchemaTypes]
  }

  /** The parsed schema of an id (cached), for the serde. */
  async parsedById (id: number): Promise<ParsedSchema> {
    const cached = this.#parsed.get(id)
    if (cached !== undefined) return cached
    const entry = await this.#schemaOrThrow(id)
    const parsed = parseSchema({ schema: entry.schema, schemaType: entry.schemaType }, Number.MAX_SAFE_INTEGER)
    this.#parsed.set(id, parsed)
    return parsed
  }

  /** Counters for /metrics and diagnostics. */
  stats (): { subjects: number, schemas: number, offset: number, skippedRecords: number, pendingTombstones: number } {
    return {
      subjects: this.#state.subjects.size,
      schemas: this.#state.schemas.size,
      offset: this.#nextOffset,
      skippedRecords: this.#state.skipped,
      pendingTombstones: this.#state.ignoredKeys.size
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  #subjectVersion (entry: VersionEntry): SubjectVersion {
    const schema = this.#state.schemas.get(entry.id) as SchemaEntry
    return { subject: entry.subject, version: entry.version, id: entry.id, schema: schema.schema, schemaType: schema.schemaType }
  }

  #versionRecord (entry: VersionEntry, deleted: boolean): ProduceRecord {
    const schema = this.#state.schemas.get(entry.id) as SchemaEntry
    const value: SchemaRecordValue = { subject: entry.subject, version: entry.version, id: entry.id, schemaType: schema.schemaType, schema: schema.schema, deleted }
    return { key: Buffer.from(entry.key), value: Buffer.from(JSON.stringify(value)) }
  }

  async #versionsOrThrow (subject: string, includeDeleted: boolean): Promise<VersionEntry[]> {
    checkSubject(subject)
    await this.#refresh()
    let versions = this.#state.versionsOf(subject, includeDeleted)
    if (versions.length === 0) {
      await this.#refresh(true)
      versions = this.#state.versionsOf(subject, includeDeleted)
    }
    if (versions.length === 0) throw subjectNotFound(subject)
    return versions
  }

  async #schemaOrThrow (id: number): Promise<SchemaEntry> {
    await this.#refresh()
    let entry = this.#state.schemas.get(id)
    if (entry === undefined) {
      await this.#refresh(true)
      entry = this.#state.schemas.get(id)
    }
    if (entry === undefined) throw new VigilError('VGL_SCHEMA_NOT_FOUND', `Schema ${id} not found`, { id })
    return entry
  }

  #effectiveLevel (subject: string): CompatibilityLevel {
    return this.#state.subjectConfig.get(subject) ?? this.#state.globalConfig ?? this.#options.defaultCompatibility
  }

  #effectiveMode (subject: string): RegistryMode {
    return this.#state.subjectMode.get(subject) ?? this.#state.globalMode ?? 'READWRITE'
  }

  #checkWritable (subject: string): void {
    const mode = this.#effectiveMode(subject)
    if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE') {
      throw new VigilError('VGL_SCHEMA_OPERATION_NOT_PERMITTED', `Subject ${subject} is in read-only mode`, { subject, mode })
    }
  }

  #checkAgainst (level: CompatibilityLevel, parsed: ParsedSchema, versions: readonly VersionEntry[]): LevelCheckResult {
    if (level === 'NONE' || versions.length === 0) return { compatible: true, messages: [], problems: [] }
    const previous: PreviousVersion[] = versions.map(v => ({ version: v.version, schema: this.#parsedSync(v.id) }))
    return checkLevel(level, parsed, previous)
  }

  #parsedSync (id: number): ParsedSchema {
    let parsed = this.#parsed.get(id)
    if (parsed === undefined) {
      const entry = this.#state.schemas.get(id) as SchemaEntry
      parsed = parseSchema({ schema: entry.schema, schemaType: entry.schemaType }, Number.MAX_SAFE_INTEGER)
      this.#parsed.set(id, parsed)
    }
    return parsed
  }

  #chooseId (parsed: ParsedSchema, requested: number | undefined, mode: RegistryMode): number {
    const known = this.#state.idByFingerprint.get(parsed.fingerprint)
    if (requested === undefined) return known ?? this.#state.maxId + 1
    if (known !== undefined && known !== requested) {
      throw new VigilError('VGL_SCHEMA_ID_CONFLICT', `Schema already registered with id ${known} instead of input id ${requested}`, { id: known })
    }
    const holder = this.#state.schemas.get(requested)
    if (holder !== undefined && holder.fingerprint !== parsed.fingerprint) {
      throw new VigilError('VGL_SCHEMA_ID_CONFLICT', `Overwrite new schema with id ${requested} not permitted: the id is taken by another schema`, { id: requested })
    }
    if (mode !== 'IMPORT' && known === undefined && requested <= this.#state.maxId && holder === undefined) {
      // Outside IMPORT mode, ids below the watermark may have been used before: refuse reuse.
      throw new VigilError('VGL_SCHEMA_ID_CONFLICT', `Id ${requested} was used before; ids are never reused outside IMPORT mode`, { id: requested })
    }
    return requested
  }

  #chooseVersion (subject: string, requested: number | undefined, mode: RegistryMode): number {
    const next = this.#state.nextVersion(subject)
    if (requested === undefined || requested === -1) return next
    checkVersion(requested)
    if (mode === 'IMPORT') {
      if (this.#state.subjects.get(subject)?.has(requested) === true) {
        throw new VigilError('VGL_SCHEMA_ID_CONFLICT', `Version ${requested} of subject ${subject} already exists`, { subject, version: requested })
      }
      return requested
    }
    if (requested !== next) {
      throw new VigilError('VGL_SCHEMA_VERSION_INVALID', `Version ${requested} is not the next version of subject ${subject} (${next})`, { subject, version: requested })
    }
    return requested
  }

  /** Runs `fn` alone: writes and catch-ups never interleave within this process. */
  async #exclusive<T> (fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new VigilError('VGL_SCHEMA_STORE_ERROR', 'The schema registry is closed')
    const run = this.#lock.then(fn, fn)
    this.#lock = run.catch(() => {})
    return await run
  }

  async #refresh (force = false): Promise<void> {
    if (!force && Date.now() - this.#lastCatchUp < this.#options.maxStalenessMs) return
    const asked = Date.now()
    await this.#exclusive(async () => {
      // Requests that queued behind a catch-up started after they asked need no other.
      if (this.#lastCatchUpStarted > asked || (!force && Date.now() - this.#lastCatchUp < this.#options.maxStalenessMs)) return
      await this.#catchUp()
    })
  }

  /** Reads `_schemas` from the last applied offset to its end (or at least up to `untilOffset`). */
  async #catchUp (untilOffset = 0): Promise<void> {
    const started = Date.now()
    for (;;) {
      const records = await this.#store(() => this.#log.read(this.#options.topic, 0, this.#nextOffset, readPageSize))
      for (const record of records) {
        this.#state.apply(record.key, record.value)
        this.#nextOffset = record.offset + 1
      }
      if (records.length === readPageSize) continue
      if (this.#nextOffset >= untilOffset) break
      if (Date.now() - started > this.#options.readBackTimeoutMs) {
        throw new VigilError('VGL_SCHEMA_STORE_ERROR', `Timed out reading back ${this.#options.topic} up to offset ${untilOffset}`, { topic: this.#options.topic })
      }
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    this.#lastCatchUp = Date.now()
    this.#lastCatchUpStarted = started
    if (this.#state.ignoredKeys.size > 0) await this.#tombstoneIgnored()
  }

  async #produceAndApply (records: ProduceRecord[]): Promise<void> {
    const metadata = await this.#store(() => this.#log.produce(this.#options.topic, records.map(r => ({ ...r, partition: 0 }))))
    const last = Math.max(...metadata.map(m => m.offset))
    await this.#catchUp(last + 1)
  }

  /** Tombstones records that lost a race, so compaction can never bring them back. Best effort. */
  async #tombstoneIgnored (): Promise<void> {
    const keys = [...this.#state.ignoredKeys]
    try {
      const metadata = await this.#log.produce(this.#options.topic, keys.map(key => ({ key: Buffer.from(key), value: null, partition: 0 })))
      const last = Math.max(...metadata.map(m => m.offset))
      // Apply our own tombstones (and anything before them) without recursing.
      for (;;) {
        const page = await this.#log.read(this.#options.topic, 0, this.#nextOffset, readPageSize)
        for (const record of page) {
          this.#state.apply(record.key, record.value)
          this.#nextOffset = record.offset + 1
        }
        if (this.#nextOffset > last || page.length === 0) break
      }
    } catch {
      // Retried at the next catch-up; the ignored records are harmless until compaction.
    }
  }

  async #store<T> (fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (cause) {
      if (isVigilError(cause) && cause.code.startsWith('VGL_SCHEMA_')) throw cause
      const message = cause instanceof Error ? cause.message : String(cause)
      throw new VigilError('VGL_SCHEMA_STORE_ERROR', `Error in the schema store (${this.#options.topic}): ${message}`, { topic: this.#options.topic, cause })
    }
  }
}

export async function createLogSchemaRegistry (options: LogSchemaRegistryOptions): Promise<LogSchemaRegistry> {
  const registry = new LogSchemaRegistry(options)
  await registry.start()
  return registry
}

// ---- argument checks shared with the routes ---------------------------------------------------

export function checkSubject (subject: unknown): asserts subject is string {
  if (typeof subject !== 'string' || subject === '' || subjectPattern.test(subject) || subject === '__GLOBAL' || subject === '__EMPTY') {
    throw new VigilError('VGL_SCHEMA_SUBJECT_INVALID', `The specified subject is not a valid subject name: ${JSON.stringify(subject)}`, { subject })
  }
}

const maxVersion = 2 ** 31 - 1

export function checkVersion (version: unknown): asserts version is VersionSelector {
  if (version === 'latest') return
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > maxVersion) {
    throw new VigilError('VGL_SCHEMA_VERSION_INVALID',
      `The specified version '${String(version)}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`, { version })
  }
}

/** Parses a version path segment: a number, `latest`, or -1 (= latest). */
export function parseVersion (text: string): VersionSelector {
  if (text === 'latest' || text === '-1') return 'latest'
  const n = /^\d{1,10}$/.test(text) ? Number(text) : NaN
  checkVersion(Number.isNaN(n) ? text : n)
  return n
}

export function checkLevelValue (level: unknown): CompatibilityLevel {
  const upper = typeof level === 'string' ? level.toUpperCase() : level
  if (!isCompatibilityLevel(upper)) {
    throw new VigilError('VGL_SCHEMA_COMPATIBILITY_LEVEL_INVALID',
      'Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive', { level })
  }
  return upper
}

function subjectNotFound (subject: string): VigilError {
  return new VigilError('VGL_SCHEMA_SUBJECT_NOT_FOUND', `Subject '${subject}' not found.`, { subject })
}

function versionNotFound (subject: string, version: VersionSelector): VigilError {
  return new VigilError('VGL_SCHEMA_VERSION_NOT_FOUND', `Version ${String(version)} not found.`, { subject, version })
}
