/**
 * The audit service: CAIPE-compatible ingestion (validate, normalise, verbosity, backpressure,
 * acknowledge once durable on the log), status, queries, retention and verification, over the
 * archiver and its stores. The HTTP routes (routes.ts) and the CLI call into this.
 */
import type { KeyObject } from 'node:crypto'
import type { Log } from '../log/types.ts'
import type { Logger } from '../logger.ts'
import { VigilError } from '../errors.ts'
import { Archiver } from './archiver.ts'
import { loadSigningKey, type SigningKey } from './checkpoint.ts'
import { createLocalStore, type LocalStore } from './local-store.ts'
import type { AuditMetrics } from './metrics.ts'
import { decodeCursor, queryStore, type QueryResult } from './query.ts'
import { allowedTypes, applyVerbosity, exactFilters, isoZ, normaliseEvents, parseIsoTime, payloadEvents, verbosityPresets } from './record.ts'
import { runLocalRetention } from './retention.ts'
import { formatBytes, localRetentionNote, s3RetentionUpdatedNote, verbosityResponse } from './caipe-info.ts'
import { RateMeter, retryAfterSeconds } from './rate-meter.ts'
import { createS3Store, type S3Store } from './s3-store.ts'
import type { AuditConfig } from './settings.ts'
import { warmManifests, type ArchiveStore, type RecordFilter, type StorageHealth } from './store.ts'
import { verifyStore, type VerifyReport } from './verify.ts'

export interface AuditServiceOptions {
  config: AuditConfig
  logger: Logger
  metrics: AuditMetrics
}

/** CAIPE's accepted `window` values. */
export const windows: Readonly<Record<string, number>> = Object.freeze({
  '5m': 5 * 60_000, '15m': 15 * 60_000, '30m': 30 * 60_000, '1h': 3_600_000, '6h': 6 * 3_600_000, '12h': 12 * 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000
})

export interface IngestResult {
  accepted: number
  queued: number
}

export class AuditService {
  readonly config: AuditConfig
  readonly stores: ArchiveStore[]
  readonly local: LocalStore | undefined
  readonly s3: S3Store | undefined
  readonly #logger: Logger
  readonly #metrics: AuditMetrics
  readonly #allowed: ReadonlySet<string> | null
  #log: Log | undefined
  #archiver: Archiver | undefined
  #signingKey: SigningKey | undefined
  #partitions = 1
  #nextPartition = 0
  #stopping = false
  #acceptedEvents = 0
  #rejectedEvents = 0
  /** The archiver's recent rate, which sizes a 503's Retry-After. */
  readonly #archiveRate = new RateMeter()
  #lastReceivedAt: string | null = null
  #lagSnapshot = 0
  #producedSinceSnapshot = 0
  #lagTimer: NodeJS.Timeout | undefined
  #retentionTimer: NodeJS.Timeout | undefined
  #retentionRun: Promise<unknown> = Promise.resolve()
  #warming: Promise<void> = Promise.resolve()

  constructor (options: AuditServiceOptions) {
    const c = options.config
    this.config = c
    this.#logger = options.logger
    this.#metrics = options.metrics
    this.#allowed = allowedTypes(c.verbosity)
    if (!Object.hasOwn(verbosityPresets, c.verbosity.trim().toLowerCase())) {
      options.logger.warn({ verbosity: c.verbosity }, 'unknown audit verbosity preset: every event type is kept')
    }
    const manifestCacheBytes = c.read.manifestCacheMb * 1024 * 1024
    this.local = c.backend === 'local' || c.backend === 'both' ? createLocalStore({ ...c.local, manifestCacheBytes }) : undefined
    this.s3 = c.backend === 's3' || c.backend === 'both' ? createS3Store({ ...c.s3, manifestCacheBytes }) : undefined
    this.stores = [this.local, this.s3].filter(s => s !== undefined)
  }

  /** The store queries read (local when there is one). */
  get queryStore (): ArchiveStore {
    return this.stores[0] as ArchiveStore
  }

  get signingKey (): SigningKey {
    this.#signingKey ??= loadSigningKey(this.config.checkpoint.privateKey, this.config.checkpoint.keyFile)
    return this.#signingKey
  }

  get started (): boolean {
    return this.#log !== undefined && !this.#stopping
  }

  async start (log: Log): Promise<void> {
    const c = this.config
    const topic = await log.admin.ensureTopic({ name: c.topic, partitions: c.partitions, retentionMs: -1 })
    this.#partitions = topic.partitions.length
    this.#nextPartition = Math.floor(Math.random() * this.#partitions)
    this.#archiver = new Archiver({
      log,
      topic: c.topic,
      group: c.group,
      stores: this.stores,
      flushBatchSize: c.flushBatchSize,
      flushIntervalMs: c.flushIntervalMs,
      retryInitialDelayMs: c.retryInitialDelayMs,
      retryMaxDelayMs: c.retryMaxDelayMs,
      checkpointIntervalMs: c.checkpoint.intervalMs,
      encodeThreads: c.encodeThreads,
      signingKey: this.signingKey,
      logger: this.#logger.child({ component: 'audit-archiver' }),
      metrics: this.#metrics
    })
    if (this.local !== undefined && c.local.retentionDays > 0) {
      this.#retentionRun = this.runRetention()
      this.#retentionTimer = setInterval(() => { this.#retentionRun = this.runRetention() }, c.local.retentionIntervalMs)
      this.#retentionTimer.unref()
    }
    await this.#archiver.start()
    this.#log = log
    await this.#refreshLag()
    this.#lagTimer = setInterval(() => { this.#refreshLag().catch(() => {}) }, 250)
    this.#lagTimer.unref()
    this.#warming = this.#warmManifests()
  }

  async stop (): Promise<void> {
    this.#stopping = true
    clearInterval(this.#lagTimer)
    clearInterval(this.#retentionTimer)
    await this.#retentionRun
    await this.#warming
    await this.#archiver?.stop()
    for (const store of this.stores) await store.close()
  }

  /** In the background: the manifests of CAIPE's default query window (the last 24 h), so that the first query after a start is fast too. */
  async #warmManifests (): Promise<void> {
    const store = this.queryStore
    const started = Date.now()
    try {
      const files = await warmManifests(store, started - 24 * 3_600_000, started, () => this.#stopping)
      this.#logger.info({ store: store.kind, files, ms: Date.now() - started }, 'audit manifest cache warmed for the last 24 h')
    } catch (error) {
      if (!this.#stopping) this.#logger.warn({ err: error, store: store.kind }, 'audit manifest cache warm-up failed; queries read the manifests they need themselves')
    }
  }

  /** Local retention: delete files older than retentionDays (by the newest record's ts), record them in the ledger. */
  async runRetention (now = Date.now()): Promise<number> {
    if (this.local === undefined || this.config.local.retentionDays <= 0) return 0
    try {
      const deleted = await runLocalRetention(this.local, this.config.topic, this.config.local.retentionDays, now)
      if (deleted > 0) {
        this.#metrics.retentionDeleted.inc({ store: 'local' }, deleted)
        this.#logger.info({ deleted, retentionDays: this.config.local.retentionDays }, 'audit retention removed old files')
      }
      return deleted
    } catch (error) {
      this.#logger.error({ err: error }, 'audit retention failed')
      return 0
    }
  }

  async #refreshLag (): Promise<void> {
    const log = this.#log
    if (log === undefined) return
    const produced = this.#producedSinceSnapshot
    try {
      const group = await log.admin.describeGroup(this.config.group)
      this.#lagSnapshot = group.offsets.filter(o => o.topic === this.config.topic).reduce((n, o) => n + o.lag, 0)
    } catch {
      // No group yet (the archiver has not joined): everything on the topic is backlog.
      const topic = await log.admin.describeTopic(this.config.topic)
      this.#lagSnapshot = topic.partitions.reduce((n, p) => n + p.highOffset - p.lowOffset, 0)
    }
    this.#producedSinceSnapshot -= produced
    this.#metrics.backlog.set(this.backlog)
  }

  /** Records on the topic not yet archived (the archiver group's lag, plus what was produced since it was measured). */
  get backlog (): number {
    return this.#lagSnapshot + this.#producedSinceSnapshot
  }

  /** POST /v1/audit/events: resolves once the batch is durable on the log. */
  async ingest (body: unknown): Promise<IngestResult> {
    let records
    try {
      records = normaliseEvents(payloadEvents(body))
    } catch (error) {
      this.#metrics.rejected.inc({ reason: 'invalid' })
      throw error
    }
    const kept = applyVerbosity(records, this.#allowed)
    if (records.length > kept.length) this.#metrics.dropped.inc(records.length - kept.length)
    const log = this.#log
    if (kept.length === 0) return { accepted: 0, queued: this.backlog }
    const max = this.config.maxBacklogRecords
    if (kept.length > max) {
      // It would not fit even with the backlog empty: retrying can never succeed (CAIPE answers 503).
      this.#rejectedEvents += kept.length
      this.#metrics.rejected.inc({ reason: 'too_large' }, kept.length)
      throw new VigilError('VGL_AUDIT_BATCH_TOO_LARGE', `a batch of ${kept.length} events is larger than the backlog bound audit.maxBacklogRecords (AUDIT_SERVICE_QUEUE_MAX_SIZE) = ${max}: split it`, { batch: kept.length, maxBacklogRecords: max, field: 'events' })
    }
    const now = Date.now()
    const archiver = this.#archiver?.stats
    if (archiver !== undefined) this.#archiveRate.observe(now, archiver.flushedEvents)
    const backlog = this.backlog
    if (log === undefined || this.#stopping || backlog + kept.length > max) {
      this.#rejectedEvents += kept.length
      this.#metrics.rejected.inc({ reason: log === undefined || this.#stopping ? 'not_ready' : 'queue_full' }, kept.length)
      // Retry when the archiver will have made room for this batch, at the rate it has shown.
      const retryAfter = retryAfterSeconds(backlog + kept.length - max, this.#archiveRate.perSecond())
      throw new VigilError('VGL_AUDIT_QUEUE_FULL', 'audit queue full', { backlog, batch: kept.length, maxBacklogRecords: max, retryAfterSeconds: retryAfter })
    }
    const partition = this.#nextPartition++ % this.#partitions
    const produce = kept.map(record => ({ value: Buffer.from(JSON.stringify(record)), partition, timestamp: now }))
    this.#producedSinceSnapshot += kept.length
    try {
      await log.produce(this.config.topic, produce)
    } catch (error) {
      this.#producedSinceSnapshot -= kept.length
      this.#metrics.rejected.inc({ reason: 'log_error' }, kept.length)
      throw error
    }
    this.#acceptedEvents += kept.length
    this.#lastReceivedAt = isoZ(new Date())
    this.#metrics.accepted.inc(kept.length)
    return { accepted: kept.length, queued: this.backlog }
  }

  /** The store's health, or `down` with a fixed detail when the check itself throws (CAIPE). */
  async storageHealth (): Promise<StorageHealth> {
    const store = this.queryStore
    try {
      return await store.health()
    } catch (error) {
      this.#logger.error({ err: error }, 'audit storage health check failed')
      return { backend: store.kind, status: 'down', detail: 'storage health check failed; see audit-service logs' }
    }
  }

  /** CAIPE's /v1/audit/status fields. */
  async status (): Promise<Record<string, unknown>> {
    const c = this.config
    const archiver = this.#archiver?.stats
    const local = this.local !== undefined
    const s3 = this.s3 !== undefined
    return {
      running: archiver?.running === true && !this.#stopping,
      backend: c.backend,
      queue_size: this.backlog,
      queue_max_size: c.maxBacklogRecords,
      flush_batch_size: c.flushBatchSize,
      flush_interval_seconds: c.flushIntervalMs / 1000,
      accepted_events: this.#acceptedEvents,
      rejected_events: this.#rejectedEvents,
      flushed_events: archiver?.flushedEvents ?? 0,
      failed_flushes: archiver?.failedFlushes ?? 0,
      last_received_at: this.#lastReceivedAt,
      last_flush_at: archiver?.lastFlushAt ?? null,
      last_error: archiver?.lastError ?? null,
      local_path: local ? c.local.path : null,
      local_gzip: local ? c.local.gzip : null,
      local_retention_days: local ? c.local.retentionDays : null,
      s3_bucket: s3 ? c.s3.bucket : null,
      s3_prefix: s3 ? c.s3.prefix : null,
      storage: await this.storageHealth(),
      verbosity: c.verbosity,
      topic: c.topic
    }
  }

  /** CAIPE's /readyz checks: the store probe, then the worker. null when ready. */
  async readinessProblem (): Promise<string | null> {
    try {
      await this.queryStore.probe()
    } catch (error) {
      this.#logger.warn({ err: error }, 'audit storage probe failed')
      return 'storage unavailable'
    }
    if (this.#archiver?.stats.running !== true || this.#stopping) return 'audit worker is not running'
    return null
  }

  /** GET /v1/audit/events with CAIPE's parameters (and Vigil's cursor). */
  async query (params: Record<string, string | undefined>): Promise<QueryResult> {
    const started = process.hrtime.bigint()
    const { filter, limit, cursor, resolution } = this.parseQuery(params)
    const store = this.queryStore
    const result = await queryStore(store, { filter, limit, cursor, resolution })
    this.#metrics.queries.observe({ store: store.kind }, Number(process.hrtime.bigint() - started) / 1e9)
    if (result.skipped_files !== undefined) {
      this.#metrics.querySkippedFiles.inc({ store: store.kind }, result.skipped_files.length)
      this.#logger.error({ store: store.kind, files: result.skipped_files }, 'audit query skipped damaged files; run `vigil audit verify` and restore them')
    }
    return result
  }

  /** Validates the query parameters as CAIPE does. */
  parseQuery (params: Record<string, string | undefined>): { filter: RecordFilter, limit: number, cursor: ReturnType<typeof decodeCursor> | undefined, resolution: 'auto' | 'minute' | 'hour' | 'day' } {
    const c = this.config.read
    const range = parseRange(params, c.maxDays)
    const resolution = params.time_resolution ?? 'auto'
    if (resolution !== 'auto' && resolution !== 'minute' && resolution !== 'hour' && resolution !== 'day') {
      throw new VigilError('VGL_AUDIT_QUERY_INVALID', 'time_resolution must be one of auto, minute, hour, day', { field: 'time_resolution' })
    }
    let limit = c.defaultLimit
    if (params.limit !== undefined && params.limit !== '') {
      const n = Number(params.limit)
      // FastAPI's two answers for `limit: int = Query(ge=1)`: a parsing error, or a bound error.
      if (!/^\s*[-+]?\d+\s*$/.test(params.limit)) {
        throw new VigilError('VGL_AUDIT_QUERY_INVALID', 'limit must be an integer >= 1', {
          field: 'limit', statusCode: 422, validation: { type: 'int_parsing', loc: ['query', 'limit'], msg: 'Input should be a valid integer, unable to parse string as an integer', input: params.limit }
        })
      }
      if (n < 1) {
        throw new VigilError('VGL_AUDIT_QUERY_INVALID', 'limit must be an integer >= 1', {
          field: 'limit', statusCode: 422, validation: { type: 'greater_than_equal', loc: ['query', 'limit'], msg: 'Input should be greater than or equal to 1', input: params.limit, ctx: { ge: 1 } }
        })
      }
      limit = n
    }
    limit = Math.min(limit, c.maxLimit)
    const cursor = params.cursor !== undefined && params.cursor !== '' ? decodeCursor(params.cursor) : undefined
    const exact: Array<[string, string]> = []
    for (const column of [...exactFilters, 'capability']) {
      const value = params[column]
      if (value !== undefined && value !== '') exact.push([column, value])
    }
    const email = params.user_email
    const filter: RecordFilter = {
      sinceMs: cursor?.s ?? range.sinceMs,
      untilMs: cursor?.u ?? range.untilMs,
      exact,
      userEmail: email !== undefined && email !== '' ? email.toLowerCase() : undefined
    }
    return { filter, limit, cursor, resolution }
  }

  /** Verifies every store; checkpoint signatures are checked with `publicKey` (default: the service's own key). */
  async verify (params: { since?: string | undefined, until?: string | undefined, publicKey?: KeyObject | null }): Promise<VerifyReport[]> {
    const sinceMs = params.since === undefined || params.since === '' ? undefined : parseTime(params.since, 'since')
    const untilMs = params.until === undefined || params.until === '' ? undefined : parseTime(params.until, 'until')
    const reports: VerifyReport[] = []
    for (const store of this.stores) {
      const report = await verifyStore(store, { topic: this.config.topic, sinceMs, untilMs, publicKey: params.publicKey === null ? undefined : (params.publicKey ?? this.signingKey.publicKey) })
      this.#metrics.verifications.inc({ result: report.ok ? 'ok' : 'tampered' })
      reports.push(report)
    }
    return reports
  }

  /** CAIPE's GET /v1/audit/retention (`retention_days`, `configurable`, `note`), plus Vigil's rule details. */
  async retentionInfo (): Promise<Record<string, unknown>> {
    if (this.s3 !== undefined && this.local === undefined) {
      return {
        backend: 's3',
        retention_days: await this.s3.getRetentionDays(),
        configurable: true,
        bucket: this.config.s3.bucket,
        prefix: this.s3.prefix,
        rule_id: 'caipe-audit-retention',
        configured_days: this.config.s3.retentionDays
      }
    }
    return {
      backend: this.config.backend,
      retention_days: this.config.local.retentionDays,
      // Only the S3 part of 'both' can be changed at run time; CAIPE has no 'both'.
      configurable: false,
      note: localRetentionNote,
      local_retention_days: this.config.local.retentionDays,
      ...(this.s3 === undefined ? {} : { s3_retention_days: await this.s3.getRetentionDays() })
    }
  }

  async setRetention (body: unknown): Promise<Record<string, unknown>> {
    if (this.s3 === undefined) {
      throw new VigilError('VGL_AUDIT_RETENTION_INVALID', 'retention can be changed only for the s3 backend; local retention is audit.local.retentionDays (AUDIT_SERVICE_LOCAL_RETENTION_DAYS)', {})
    }
    const days = (body as { days?: unknown } | null)?.days
    if (typeof days !== 'number' || !Number.isInteger(days)) {
      throw new VigilError('VGL_AUDIT_RETENTION_INVALID', 'body must be {"days": N} with N a whole number', { field: 'days' })
    }
    if (days < 0) throw new VigilError('VGL_AUDIT_RETENTION_INVALID', 'days must be >= 0 (0 removes the lifecycle rule)', { field: 'days' })
    await this.s3.setRetentionDays(days)
    this.#logger.info({ days }, days === 0 ? 'audit S3 lifecycle rule removed' : 'audit S3 lifecycle rule set')
    return { backend: 's3', retention_days: days, bucket: this.config.s3.bucket, prefix: this.s3.prefix, note: s3RetentionUpdatedNote, rule_id: 'caipe-audit-retention' }
  }

  /**
   * CAIPE's GET /v1/audit/storage: for local, the audit files' bytes, the path and the retention;
   * for S3, the objects counted (at most 10 000, `capped`) and their bytes. Vigil's storage-health
   * fields (disk use, status) stay beside them.
   */
  async storage (): Promise<Record<string, unknown>> {
    const health = await this.storageHealth()
    if (this.local !== undefined) {
      const auditBytes = await this.local.auditBytes()
      return {
        ...health,
        backend: this.config.backend,
        audit_bytes: auditBytes,
        audit_bytes_human: formatBytes(auditBytes),
        local_path: this.config.local.path,
        retention_days: this.config.local.retentionDays
      }
    }
    const s3 = this.s3 as S3Store
    try {
      const usage = await s3.usage(10_000)
      return {
        ...health,
        backend: 's3',
        object_count: usage.objects,
        total_bytes: usage.bytes,
        total_bytes_human: formatBytes(usage.bytes),
        capped: usage.truncated,
        bucket: this.config.s3.bucket,
        prefix: s3.prefix
      }
    } catch (error) {
      // CAIPE's listing stops at the first failure and reports what it counted; Vigil says it failed.
      this.#logger.error({ err: error }, 'audit storage usage failed')
      return health
    }
  }

  /** CAIPE's GET /v1/audit/verbosity (see caipe-info.ts). */
  verbosityInfo (): Record<string, unknown> {
    return verbosityResponse(this.config.verbosity)
  }
}

export function parseTime (text: string, field: string): number {
  const ms = parseIsoTime(text)
  if (Number.isNaN(ms)) throw new VigilError('VGL_AUDIT_QUERY_INVALID', 'invalid ISO timestamp', { field, value: text })
  return ms
}

/** since/from, until/to, window: CAIPE's defaults and limits. */
export function parseRange (params: Record<string, string | undefined>, maxDays: number, nowMs = Date.now()): { sinceMs: number, untilMs: number } {
  const sinceText = params.since ?? params.from
  const untilText = params.until ?? params.to
  const untilMs = untilText === undefined || untilText === '' ? nowMs : parseTime(untilText, 'until')
  let windowMs = 86_400_000
  if (params.window !== undefined && params.window !== '') {
    const w = windows[params.window]
    if (w === undefined) throw new VigilError('VGL_AUDIT_QUERY_INVALID', `window must be one of ${Object.keys(windows).join(', ')}`, { field: 'window' })
    windowMs = w
  }
  const sinceMs = sinceText === undefined || sinceText === '' ? untilMs - windowMs : parseTime(sinceText, 'since')
  if (sinceMs > untilMs) throw new VigilError('VGL_AUDIT_QUERY_INVALID', 'since must be before until', { field: 'since' })
  if (untilMs - sinceMs > maxDays * 86_400_000) throw new VigilError('VGL_AUDIT_QUERY_INVALID', `time range exceeds ${maxDays} days`, { field: 'since' })
  return { sinceMs, untilMs }
}
