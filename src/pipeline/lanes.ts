/**
 * The runtime's bookkeeping records: a Slot per polled record, a Lane per key (the unit of
 * per-key order), a PartitionState per owned partition (its records in offset order, for the
 * contiguous-prefix commit), and the three outcomes of one attempt.
 */
import type { LogRecord } from '../log/types.ts'
import type { RecordStats } from './metrics.ts'

export const DONE = 1
export const RETRY = 2
export const ABANDON = 3
export type Outcome = typeof DONE | typeof RETRY | typeof ABANDON

export interface Slot {
  record: LogRecord
  offset: number
  done: boolean
  /** Attempts made. */
  attempts: number
  /** Failed attempts that count against maxAttempts. */
  counted: number
  firstFailureAt: number
  lastFailureAt: number
  startedAt: number
  decoded: boolean
  value: unknown
  route: string
  handler: string
  eventType: string | undefined
  eventId: string | undefined
  /** Counters of the record's (topic, event_type), found once it is decoded. */
  stats: RecordStats | undefined
}

export interface PartitionState {
  key: string
  topic: string
  partition: number
  /** No new record of this partition starts (it is being revoked). */
  revoked: boolean
  /** Removed after a revoke: late completions are ignored. */
  gone: boolean
  /** Polled records in offset order; [head, length) are not yet committable. */
  queue: Slot[]
  head: number
  commitOffset: number
  dirty: boolean
  pausedForBacklog: boolean
  /** Lanes of keyed records, by key (latin1 of the bytes); empty idle ones are swept now and then. */
  lanes: Map<string, Lane>
  /** The lane of unkeyed records. */
  unkeyed: Lane | undefined
}

export interface Lane {
  id: string
  ps: PartitionState
  items: Slot[]
  head: number
  state: 'idle' | 'ready' | 'running' | 'waiting'
  timer: NodeJS.Timeout | undefined
  retryDelayMs: number
  controller: AbortController | undefined
  /** Resolved when the lane stops running (revoke and stop wait on it). */
  idleWaiters: Array<() => void> | undefined
}

/** What the runtime's parts share about its life: set once stop() begins. */
export interface RunFlags {
  draining: boolean
}

/** A fresh slot; every field set, so every slot has the same shape. */
export function newSlot (record: LogRecord): Slot {
  return {
    record,
    offset: record.offset,
    done: false,
    attempts: 0,
    counted: 0,
    firstFailureAt: 0,
    lastFailureAt: 0,
    startedAt: 0,
    decoded: false,
    value: undefined,
    route: '',
    handler: '',
    eventType: undefined,
    eventId: undefined,
    stats: undefined
  }
}

export function newPartitionState (topic: string, partition: number): PartitionState {
  return { key: tpKey(topic, partition), topic, partition, revoked: false, gone: false, queue: [], head: 0, commitOffset: -1, dirty: false, pausedForBacklog: false, lanes: new Map(), unkeyed: undefined }
}

export function newLane (ps: PartitionState, id: string): Lane {
  return { id, ps, items: [], head: 0, state: 'idle', timer: undefined, retryDelayMs: 0, controller: undefined, idleWaiters: undefined }
}

export function lanesOf (ps: PartitionState): Lane[] {
  return ps.unkeyed === undefined ? [...ps.lanes.values()] : [...ps.lanes.values(), ps.unkeyed]
}

export function tpKey (topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

export interface Thenable<T> { then: Promise<T>['then'] }

export function isThenable (value: unknown): value is Thenable<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function'
}
