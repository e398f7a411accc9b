/**
 * The projector: follows the fleet topics from their beginning and applies every record to the
 * FleetState. Each Vigil process runs its own (a consumer group of its own that never commits),
 * so on Kafka every process holds the whole fleet and answers every query, and a restart
 * rebuilds the state by replaying the topics. `ready` resolves once the replay has reached the
 * ends the topics had at start.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from '../logger.ts'
import type { Consumer, Log, LogRecord } from '../log/types.ts'
import type { CommandResultRecord, EventEnvelope, FleetRecordKind, FleetTopics, HeartbeatRecord, ScanRecord } from './records.ts'
import type { SignedCommand } from './signed-command.ts'
import type { FleetState } from './state.ts'

export interface ProjectorOptions {
  log: Log
  topics: FleetTopics
  state: FleetState
  logger: Logger
  /** Called before each record is applied (what the attention changes it causes come from). */
  onApplying?: (record: LogRecord) => void
  /** Called after each record is applied, with its kind, value and log position. */
  onRecord?: (kind: FleetRecordKind, value: unknown, record: LogRecord) => void
}

export class Projector {
  readonly #options: ProjectorOptions
  readonly #kindOf = new Map<string, FleetRecordKind>()
  #consumer: Consumer | undefined
  #running = false
  #loop: Promise<void> | undefined
  #caughtUp = false
  #pendingEnds = new Map<string, number>()
  #resolveReady: (() => void) | undefined
  readonly ready: Promise<void>
  /** Records whose value could not be applied (not JSON, wrong shape); they are skipped. */
  skipped = 0

  constructor (options: ProjectorOptions) {
    this.#options = options
    for (const [kind, topic] of Object.entries(options.topics) as Array<[FleetRecordKind, string]>) this.#kindOf.set(topic, kind)
    this.ready = new Promise(resolve => { this.#resolveReady = resolve })
  }

  get caughtUp (): boolean { return this.#caughtUp }

  async start (): Promise<void> {
    const { log, topics } = this.#options
    for (const topic of Object.values(topics)) {
      const description = await log.admin.describeTopic(topic)
      for (const p of description.partitions) if (p.highOffset > p.lowOffset) this.#pendingEnds.set(`${topic}:${p.partition}`, p.highOffset)
    }
    this.#consumer = log.consumer({ group: `vigil-fleet-projector-${randomUUID()}`, topics: Object.values(topics), autoOffsetReset: 'earliest' })
    this.#running = true
    this.#checkCaughtUp()
    this.#loop = this.#run()
  }

  async stop (): Promise<void> {
    this.#running = false
    await this.#loop
    await this.#consumer?.close()
  }

  async #run (): Promise<void> {
    const consumer = this.#consumer!
    while (this.#running) {
      let records: LogRecord[]
      try {
        records = await consumer.poll({ maxRecords: 5000, timeoutMs: 200 })
      } catch (error) {
        if (!this.#running) return
        this.#options.logger.warn({ err: error }, 'fleet projector poll failed; retrying')
        await new Promise(resolve => setTimeout(resolve, 500))
        continue
      }
      for (const record of records) this.#apply(record)
      if (!this.#caughtUp && records.length > 0) this.#checkCaughtUp()
    }
  }

  #apply (record: LogRecord): void {
    this.#options.onApplying?.(record)
    const kind = this.#kindOf.get(record.topic)
    if (kind !== undefined && record.value !== null) {
      let value: unknown
      try {
        value = JSON.parse(record.value.toString('utf8'))
      } catch {
        this.skipped++
        return
      }
      if (typeof value === 'object' && value !== null && typeof (value as { node_id?: unknown }).node_id === 'string') {
        const state = this.#options.state
        if (kind === 'heartbeat') state.applyHeartbeat(value as HeartbeatRecord, record.timestamp)
        else if (kind === 'scan') state.applyScan(value as ScanRecord, record.timestamp)
        else if (kind === 'command-result') state.applyCommandResult(value as CommandResultRecord, record.timestamp)
        else if (kind === 'command') state.applyCommand(value as SignedCommand)
        else state.applyEvent(value as EventEnvelope, record.timestamp)
        this.#options.onRecord?.(kind, value, record)
      } else if (kind === 'event' && typeof value === 'object' && value !== null) {
        // Fleet-wide events carry node_id null.
        this.#options.state.applyEvent(value as EventEnvelope, record.timestamp)
        this.#options.onRecord?.(kind, value, record)
      } else {
        this.skipped++
      }
    }
    const key = `${record.topic}:${record.partition}`
    const end = this.#pendingEnds.get(key)
    if (end !== undefined && record.offset + 1 >= end) this.#pendingEnds.delete(key)
  }

  #checkCaughtUp (): void {
    if (this.#pendingEnds.size > 0) return
    this.#caughtUp = true
    this.#resolveReady?.()
  }
}
