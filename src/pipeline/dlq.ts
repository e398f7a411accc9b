/**
 * Dead-letter queries and redrive, shared by `vigil dlq` and the /dlq HTTP API.
 *
 * Redrive is idempotent. Its state is a compacted topic on the log, `<dead-letter topic>-redrive`,
 * keyed by the dead letter's id (`<topic>:<partition>:<offset>`):
 *   1. read the state; dead letters already redriven (or in doubt) are skipped unless forced;
 *   2. write a `pending` marker per candidate, with a claim id unique to this redrive;
 *   3. read the markers written since step 1: a candidate whose first new marker is not ours is
 *      being redriven by someone else at the same moment, and is skipped (first writer wins);
 *   4. produce the records to their original topics (key, value and headers as they were, plus
 *      vigil.redrive.count / .from / .at);
 *   5. write a `done` marker naming where each record went.
 * A crash between 2 and 5 leaves `pending`: such a dead letter is reported in doubt and only
 * redriven again with force, after checking the topic for `vigil.redrive.from=<id>`.
 *
 * A record that fails again after pipelines.deadLetter.maxRedrives redrives is parked by the
 * pipeline in `<dead-letter topic>-parked`; redriving from there needs force as well.
 */
import { randomUUID } from 'node:crypto'
import type { Log, LogRecord, ProduceRecord } from '../log/types.ts'
import { VigilError, isVigilError, type ErrorCode } from '../errors.ts'
import { deadLetterId, fromDeadLetterRecord, parseDeadLetterId, toRedriveRecord, type DeadLetter, type DeadLetterInfo } from './dead-letter.ts'

export function redriveStateTopicOf (deadLetterTopic: string): string {
  return `${deadLetterTopic}-redrive`
}

export interface DeadLetterFilter {
  /** Original topic. */
  topic?: string | undefined
  errorCode?: string | undefined
  eventType?: string | undefined
  pipeline?: string | undefined
  /** Dead-lettered at or after (ms since the epoch). */
  since?: number | undefined
  /** Dead-lettered before (ms since the epoch). */
  until?: number | undefined
  /** Only dead letters in this redrive state. */
  state?: RedriveStateName | undefined
}

export type RedriveStateName = 'new' | 'pending' | 'redriven'

export interface RedriveMarker {
  state: 'pending' | 'done'
  claim: string
  at: number
  to?: { topic: string, partition: number, offset: number }
}

export interface DeadLetterSummary extends DeadLetterInfo {
  redrive: RedriveStateName
  redrivenTo?: { topic: string, partition: number, offset: number } | undefined
  redrivenAt?: number | undefined
}

export interface DecodedValue {
  /** json, avro, text or base64 */
  format: string
  value: unknown
  [extra: string]: unknown
}

export type ValueRenderer = (value: Buffer) => Promise<DecodedValue | undefined>

export interface DeadLetterDetail extends DeadLetterSummary {
  key: string | null
  keyBase64: string | null
  headers: Array<{ name: string, value: string }>
  value: DecodedValue | null
}

export interface ListResult {
  items: DeadLetterSummary[]
  /** Dead letters matching the filter (items holds at most `limit` of them). */
  total: number
  /** True when the topic held more than maxScanRecords records and the scan stopped. */
  truncated: boolean
}

export interface RedriveRequest {
  deadLetterTopic: string
  /** Dead-letter ids; or a filter; or all. */
  ids?: string[] | undefined
  filter?: DeadLetterFilter | undefined
  all?: boolean | undefined
  /** Redrive even if already redriven, in doubt, or parked. */
  force?: boolean | undefined
  dryRun?: boolean | undefined
}

export interface RedriveOutcome {
  id: string
  status: 'redriven' | 'skipped' | 'would-redrive'
  code?: ErrorCode
  reason?: string
  to?: { topic: string, partition: number, offset: number }
}

export interface RedriveResult {
  redriven: number
  skipped: number
  outcomes: RedriveOutcome[]
}

export interface DeadLetterStoreOptions {
  maxRedrives: number
  /** Renders values for `show` (Avro, JSON …); default JSON, then text, then base64. */
  renderValue?: ValueRenderer
  /** Most records a list or filter scans per topic (default 100 000). */
  maxScanRecords?: number
  now?: () => number
}

const readBatch = 1000

export class DeadLetterStore {
  readonly #log: Log
  readonly #maxRedrives: number
  readonly #renderValue: ValueRenderer
  readonly #maxScan: number
  readonly #now: () => number
  /** One redrive at a time per process (others are fenced by the claim markers). */
  #redriving: Promise<unknown> = Promise.resolve()

  constructor (log: Log, options: DeadLetterStoreOptions) {
    this.#log = log
    this.#maxRedrives = options.maxRedrives
    this.#renderValue = options.renderValue ?? defaultRenderValue
    this.#maxScan = options.maxScanRecords ?? 100_000
    this.#now = options.now ?? Date.now
  }

  async list (deadLetterTopic: string, filter: DeadLetterFilter = {}, limit = 100): Promise<ListResult> {
    const { letters, truncated } = await this.#scan(deadLetterTopic)
    const state = await this.#readState(deadLetterTopic)
    const items: DeadLetterSummary[] = []
    let total = 0
    for (const letter of letters) {
      const summary = summarize(letter.info, state.markers.get(letter.info.id))
      if (!matches(summary, filter)) continue
      total++
      if (items.length < limit) items.push(summary)
    }
    return { items, total, truncated }
  }

  async show (id: string): Promise<DeadLetterDetail> {
    const letter = await this.#get(id)
    const state = await this.#readState(letter.info.dlqTopic)
    const summary = summarize(letter.info, state.markers.get(id))
    return {
      ...summary,
      key: letter.key === null ? null : letter.key.toString('utf8'),
      keyBase64: letter.key === null ? null : letter.key.toString('base64'),
      headers: letter.headers.map(([name, value]) => ({ name, value: printable(value) })),
      value: letter.value === null ? null : (await this.#renderValue(letter.value) ?? defaultRender(letter.value))
    }
  }

  redrive (request: RedriveRequest): Promise<RedriveResult> {
    const run = this.#redriving.then(() => this.#redrive(request))
    this.#redriving = run.catch(() => {})
    return run
  }

  async #redrive (request: RedriveRequest): Promise<RedriveResult> {
    const dlq = request.deadLetterTopic
    const selected = await this.#select(request)
    const stateTopic = redriveStateTopicOf(dlq)
    await this.#log.admin.ensureTopic({ name: stateTopic, partitions: 1, cleanupPolicy: 'compact', retentionMs: -1 })
    const state = await this.#readState(dlq)
    const outcomes: RedriveOutcome[] = []
    const candidates: DeadLetter[] = []
    for (const letter of selected) {
      const id = letter.info.id
      const marker = state.markers.get(id)
      const skip = (code: ErrorCode, reason: string) => { outcomes.push({ id, status: 'skipped', code, reason }) }
      if (request.force !== true) {
        if (marker?.state === 'done') { skip('VGL_DLQ_ALREADY_REDRIVEN', `already redriven to ${describeTarget(marker.to)} at ${new Date(marker.at).toISOString()}`); continue }
        if (marker?.state === 'pending') { skip('VGL_DLQ_REDRIVE_IN_DOUBT', `a redrive started at ${new Date(marker.at).toISOString()} did not finish`); continue }
        if (letter.info.redriveCount >= this.#maxRedrives) { skip('VGL_DLQ_PARKED', `already redriven ${letter.info.redriveCount} times (maxRedrives ${this.#maxRedrives})`); continue }
      }
      candidates.push(letter)
    }
    if (request.dryRun === true || candidates.length === 0) {
      for (const letter of candidates) outcomes.push({ id: letter.info.id, status: 'would-redrive' })
      return finish(outcomes, selected)
    }

    // Claim: first marker written after our read wins.
    const claim = randomUUID()
    const now = this.#now()
    await this.#log.produce(stateTopic, candidates.map(letter => marker(letter.info.id, { state: 'pending', claim, at: now })))
    const firstNew = await this.#firstMarkersSince(stateTopic, state.endOffset)
    const won: DeadLetter[] = []
    for (const letter of candidates) {
      const first = firstNew.get(letter.info.id)
      if (first?.claim === claim) won.push(letter)
      else outcomes.push({ id: letter.info.id, status: 'skipped', code: 'VGL_DLQ_ALREADY_REDRIVEN', reason: 'another redrive of this dead letter started at the same time' })
    }

    // Produce per original topic, in dead-letter order.
    const byTopic = new Map<string, DeadLetter[]>()
    for (const letter of won) {
      const list = byTopic.get(letter.info.original.topic) ?? []
      list.push(letter)
      byTopic.set(letter.info.original.topic, list)
    }
    const done: ProduceRecord[] = []
    for (const [topic, letters] of byTopic) {
      let metadata
      try {
        metadata = await this.#log.produce(topic, letters.map(letter => toRedriveRecord(letter, now)))
      } catch (error) {
        // Not produced (embedded: all or nothing; Kafka: maybe some): the markers stay pending, in doubt.
        for (const letter of letters) {
          outcomes.push({ id: letter.info.id, status: 'skipped', code: isVigilError(error) ? error.code : 'VGL_DLQ_REDRIVE_IN_DOUBT', reason: `producing to ${topic} failed: ${(error as Error).message}` })
        }
        continue
      }
      letters.forEach((letter, i) => {
        const m = metadata[i]
        const to = m === undefined ? undefined : { topic: m.topic, partition: m.partition, offset: m.offset }
        done.push(marker(letter.info.id, { state: 'done', claim, at: now, ...(to === undefined ? {} : { to }) }))
        outcomes.push({ id: letter.info.id, status: 'redriven', ...(to === undefined ? {} : { to }) })
      })
    }
    if (done.length > 0) await this.#log.produce(stateTopic, done)
    return finish(outcomes, selected)
  }

  async #select (request: RedriveRequest): Promise<DeadLetter[]> {
    const hasIds = request.ids !== undefined && request.ids.length > 0
    const hasFilter = request.filter !== undefined && Object.values(request.filter).some(v => v !== undefined)
    if (!hasIds && !hasFilter && request.all !== true) {
      throw new VigilError('VGL_DLQ_FILTER_INVALID', 'name the dead letters to redrive: ids, a filter, or all', {})
    }
    if (hasIds) {
      const letters: DeadLetter[] = []
      for (const id of request.ids as string[]) {
        const parsed = parseDeadLetterId(id)
        if (parsed.topic !== request.deadLetterTopic) {
          throw new VigilError('VGL_DLQ_ID_INVALID', `dead letter ${id} is not in ${request.deadLetterTopic}`, { id, deadLetterTopic: request.deadLetterTopic })
        }
        letters.push(await this.#get(id))
      }
      return letters
    }
    const { letters } = await this.#scan(request.deadLetterTopic)
    if (!hasFilter) return letters
    const state = await this.#readState(request.deadLetterTopic)
    return letters.filter(letter => matches(summarize(letter.info, state.markers.get(letter.info.id)), request.filter as DeadLetterFilter))
  }

  async #get (id: string): Promise<DeadLetter> {
    const { topic, partition, offset } = parseDeadLetterId(id)
    let records: LogRecord[]
    try {
      records = await this.#log.read(topic, partition, offset, 1)
    } catch (error) {
      if (isVigilError(error, 'VGL_LOG_TOPIC_NOT_FOUND') || isVigilError(error, 'VGL_LOG_PARTITION_INVALID')) {
        throw new VigilError('VGL_DLQ_NOT_FOUND', `no dead letter ${id}: ${error.message}`, { id })
      }
      throw error
    }
    const record = records[0]
    if (record === undefined || record.offset !== offset) throw new VigilError('VGL_DLQ_NOT_FOUND', `no dead letter ${id} (deleted by retention, or never written)`, { id })
    return fromDeadLetterRecord(record)
  }

  async #scan (topic: string): Promise<{ letters: DeadLetter[], truncated: boolean }> {
    let description
    try {
      description = await this.#log.admin.describeTopic(topic)
    } catch (error) {
      if (isVigilError(error, 'VGL_LOG_TOPIC_NOT_FOUND')) return { letters: [], truncated: false }
      throw error
    }
    const letters: DeadLetter[] = []
    let scanned = 0
    for (const p of description.partitions) {
      for (let offset = p.lowOffset; offset < p.highOffset && scanned < this.#maxScan;) {
        const batch = await this.#log.read(topic, p.partition, offset, Math.min(readBatch, this.#maxScan - scanned))
        if (batch.length === 0) break
        for (const record of batch) {
          scanned++
          try {
            letters.push(fromDeadLetterRecord(record))
          } catch {
            // Not written by a pipeline: not a dead letter Vigil can describe or redrive.
          }
        }
        offset = (batch[batch.length - 1] as LogRecord).offset + 1
      }
    }
    letters.sort((a, b) => a.info.deadLetteredAt - b.info.deadLetteredAt || a.info.dlqPartition - b.info.dlqPartition || a.info.dlqOffset - b.info.dlqOffset)
    return { letters, truncated: scanned >= this.#maxScan }
  }

  async #readState (deadLetterTopic: string): Promise<{ markers: Map<string, RedriveMarker>, endOffset: number }> {
    const topic = redriveStateTopicOf(deadLetterTopic)
    const markers = new Map<string, RedriveMarker>()
    let endOffset = 0
    let description
    try {
      description = await this.#log.admin.describeTopic(topic)
    } catch (error) {
      if (isVigilError(error, 'VGL_LOG_TOPIC_NOT_FOUND')) return { markers, endOffset }
      throw error
    }
    const p = description.partitions[0]
    if (p === undefined) return { markers, endOffset }
    endOffset = p.highOffset
    for (let offset = p.lowOffset; offset < p.highOffset;) {
      const batch = await this.#log.read(topic, 0, offset, readBatch)
      if (batch.length === 0) break
      for (const record of batch) {
        const parsed = parseMarker(record)
        if (parsed !== undefined) markers.set(parsed.id, parsed.marker)
      }
      offset = (batch[batch.length - 1] as LogRecord).offset + 1
    }
    return { markers, endOffset }
  }

  async #firstMarkersSince (topic: string, from: number): Promise<Map<string, RedriveMarker>> {
    const first = new Map<string, RedriveMarker>()
    const description = await this.#log.admin.describeTopic(topic)
    const high = description.partitions[0]?.highOffset ?? 0
    for (let offset = from; offset < high;) {
      const batch = await this.#log.read(topic, 0, offset, readBatch)
      if (batch.length === 0) break
      for (const record of batch) {
        const parsed = parseMarker(record)
        if (parsed !== undefined && !first.has(parsed.id)) first.set(parsed.id, parsed.marker)
      }
      offset = (batch[batch.length - 1] as LogRecord).offset + 1
    }
    return first
  }
}

function marker (id: string, value: RedriveMarker): ProduceRecord {
  return { key: Buffer.from(id), value: Buffer.from(JSON.stringify(value)), partition: 0 }
}

function parseMarker (record: LogRecord): { id: string, marker: RedriveMarker } | undefined {
  if (record.key === null || record.value === null) return undefined
  try {
    const value = JSON.parse(record.value.toString('utf8')) as RedriveMarker
    if (value.state !== 'pending' && value.state !== 'done') return undefined
    return { id: record.key.toString('utf8'), marker: value }
  } catch {
    return undefined
  }
}

function summarize (info: DeadLetterInfo, marker: RedriveMarker | undefined): DeadLetterSummary {
  return {
    ...info,
    redrive: marker === undefined ? 'new' : marker.state === 'done' ? 'redriven' : 'pending',
    redrivenTo: marker?.to,
    redrivenAt: marker?.at
  }
}

function matches (summary: DeadLetterSummary, filter: DeadLetterFilter): boolean {
  if (filter.topic !== undefined && summary.original.topic !== filter.topic) return false
  if (filter.errorCode !== undefined && summary.errorCode !== filter.errorCode) return false
  if (filter.eventType !== undefined && summary.eventType !== filter.eventType) return false
  if (filter.pipeline !== undefined && summary.pipeline !== filter.pipeline) return false
  if (filter.since !== undefined && summary.deadLetteredAt < filter.since) return false
  if (filter.until !== undefined && summary.deadLetteredAt >= filter.until) return false
  if (filter.state !== undefined && summary.redrive !== filter.state) return false
  return true
}

function finish (outcomes: RedriveOutcome[], selected: DeadLetter[]): RedriveResult {
  const order = new Map(selected.map((letter, i) => [letter.info.id, i]))
  outcomes.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0))
  return {
    redriven: outcomes.filter(o => o.status === 'redriven').length,
    skipped: outcomes.filter(o => o.status === 'skipped').length,
    outcomes
  }
}

function describeTarget (to: RedriveMarker['to']): string {
  return to === undefined ? 'its topic' : deadLetterId(to.topic, to.partition, to.offset)
}

/** True when the bytes are UTF-8 text without control characters (tab and newlines allowed). */
function isText (value: Buffer): boolean {
  if (!Buffer.from(value.toString('utf8'), 'utf8').equals(value)) return false
  for (const byte of value) if ((byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) || byte === 0x7f) return false
  return true
}

/** Header values as text when they are printable UTF-8, else base64 (prefixed). */
function printable (value: Buffer): string {
  return isText(value) ? value.toString('utf8') : `base64:${value.toString('base64')}`
}

function defaultRender (value: Buffer): DecodedValue {
  if (isText(value)) {
    const text = value.toString('utf8')
    try {
      return { format: 'json', value: JSON.parse(text) }
    } catch {
      return { format: 'text', value: text }
    }
  }
  return { format: 'base64', value: value.toString('base64') }
}

const defaultRenderValue: ValueRenderer = async (value) => defaultRender(value)

/** Parses a time for filters: ISO-8601, or milliseconds since the epoch. */
export function parseTime (text: string, what: string): number {
  const trimmed = text.trim()
  const n = /^\d+$/.test(trimmed) ? Number(trimmed) : Date.parse(trimmed)
  if (!Number.isFinite(n)) throw new VigilError('VGL_DLQ_FILTER_INVALID', `${what} must be an ISO-8601 time or epoch milliseconds, got ${JSON.stringify(text)}`, { field: what })
  return n
}
