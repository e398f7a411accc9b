/**
 * Vigil's record of who did what: every state-changing action (through the API, the CLI or the
 * console), token reloads, enrolments, revocations and failed sign-ins become events in Vigil's
 * own audit trail (audit.topic), hash-chained by the archiver like any other record.
 *
 * Failed sign-ins are bounded per source: the first of an interval is written at once, the rest
 * are counted and written as one event at the interval's end, and at most `maxSources` sources
 * are tracked (the rest are counted under one "other sources" event), so a flood of bad tokens
 * costs a handful of records a minute.
 */
import { appendAuditEvents, type AuditTopic } from '../audit/index.ts'
import type { Log } from '../log/types.ts'
import type { Logger } from '../logger.ts'

export interface ActionRecord {
  /** Who: the principal's name, or the OS user for the CLI. */
  actor: string
  /** What: e.g. `POST /dlq/:topic/redrive`, `cli: vigil schemas delete`, `access.tokens.reload`. */
  action: string
  /** On which object: e.g. `dlq:orders-dlq`, `subject:orders-value`. */
  resource?: string | undefined
  /** success, failure or denied. */
  outcome: 'success' | 'failure' | 'denied'
  /** Where it came from: api, cli, console, system. */
  source: 'api' | 'cli' | 'console' | 'system'
  /** An error code or HTTP status, when it did not succeed. */
  reason?: string | undefined
  /** Anything else worth keeping (params, status, counts). Never a secret. */
  detail?: Record<string, unknown> | undefined
}

export const actionEventType = 'vigil.action'
export const signInFailureEventType = 'vigil.sign_in_failure'

/** Turns an action into an audit event in CAIPE's field names. */
export function actionEvent (record: ActionRecord): Record<string, unknown> {
  return {
    type: actionEventType,
    component: 'vigil',
    actor_ref: record.actor,
    action: record.action,
    resource_ref: record.resource,
    outcome: record.outcome,
    source: record.source,
    reason_code: record.reason,
    ...(record.detail === undefined ? {} : { detail: record.detail })
  }
}

export interface SelfAuditOptions {
  enabled: boolean
  target: AuditTopic
  /** access.signInFailureAuditIntervalMs */
  failureIntervalMs: number
  logger: Logger
  /** Most events waiting for the log before start (older ones are counted as lost and logged). */
  maxPending?: number
  maxSources?: number
}

interface FailureWindow { count: number, firstAt: string, reasons: Set<string> }

export class SelfAudit {
  readonly #options: Required<SelfAuditOptions>
  #log: Log | undefined
  #pending: Array<Record<string, unknown>> = []
  #lost = 0
  #writing: Promise<void> = Promise.resolve()
  readonly #windows = new Map<string, FailureWindow>()
  #timer: NodeJS.Timeout | undefined

  constructor (options: SelfAuditOptions) {
    this.#options = { maxPending: 10000, maxSources: 1000, ...options }
  }

  /** Starts writing (what was recorded before waits until now). */
  attach (log: Log): void {
    this.#log = log
    const pending = this.#pending
    this.#pending = []
    this.#enqueue(pending)
    if (this.#timer === undefined && this.#options.enabled) {
      this.#timer = setInterval(() => this.#flushFailures(), this.#options.failureIntervalMs)
      this.#timer.unref()
    }
  }

  /** Records an action without waiting for it (the write is ordered and its failure logged). */
  note (record: ActionRecord): void {
    this.#enqueue([actionEvent(record)]).catch(() => {})
  }

  /** Records a failed sign-in (a 401) from `sourceAddress`; bounded as described above. */
  signInFailure (sourceAddress: string, reason: string, route: string): void {
    if (!this.#options.enabled) return
    let key = sourceAddress
    if (!this.#windows.has(key) && this.#windows.size >= this.#options.maxSources) key = 'other sources'
    const window = this.#windows.get(key)
    if (window === undefined) {
      this.#windows.set(key, { count: 0, firstAt: new Date().toISOString(), reasons: new Set() })
      this.#enqueue([{ type: signInFailureEventType, component: 'vigil', actor_ref: 'anonymous', action: `sign-in ${route}`, outcome: 'failure', source: 'api', reason_code: reason, detail: { remote_address: key, count: 1 } }])
      return
    }
    window.count++
    if (window.reasons.size < 10) window.reasons.add(reason)
  }

  /** Writes the counted failures and waits for everything recorded so far. */
  async flush (): Promise<void> {
    this.#flushFailures()
    await this.#writing
  }

  async close (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    if (this.#log !== undefined) await this.flush()
  }

  #flushFailures (): void {
    const events: Array<Record<string, unknown>> = []
    for (const [source, window] of this.#windows) {
      if (window.count > 0) {
        events.push({ type: signInFailureEventType, component: 'vigil', actor_ref: 'anonymous', action: 'sign-in', outcome: 'failure', source: 'api', reason_code: [...window.reasons].join(','), detail: { remote_address: source, count: window.count, since: window.firstAt, aggregated: true } })
      }
    }
    this.#windows.clear()
    this.#enqueue(events)
  }

  #enqueue (events: Array<Record<string, unknown>>): Promise<void> {
    if (!this.#options.enabled || events.length === 0) return this.#writing
    const log = this.#log
    if (log === undefined) {
      this.#pending.push(...events)
      if (this.#pending.length > this.#options.maxPending) {
        const dropped = this.#pending.length - this.#options.maxPending
        this.#pending.splice(0, dropped)
        this.#lost += dropped
        this.#options.logger.error({ lost: this.#lost }, 'self-audit: events recorded before the log connected were dropped (too many waiting)')
      }
      return Promise.resolve()
    }
    // One write at a time, in order: the trail keeps the order things happened in.
    this.#writing = this.#writing.then(() => appendAuditEvents(log, this.#options.target, events)).catch(error => {
      this.#options.logger.error({ err: error, events: events.length }, 'self-audit: could not write to the audit trail')
    })
    return this.#writing
  }
}
