/**
 * The messages between the embedded log (event loop) and its writer thread, and coded errors in
 * a form that crosses threads (a structured clone of a VigilError loses its class and code).
 */
import { VigilError, isVigilError, type ErrorCode } from '../../errors.ts'
import type { Store, WriteOp } from './store.ts'

/** Store methods the writer thread runs on request (writeBatch has its own message). */
export const writerCalls = new Set(['createTopic', 'deleteTopic', 'syncMember', 'heartbeat', 'release', 'leave', 'ping'] as const)
export type WriterCallName = typeof writerCalls extends Set<infer N> ? N : never
export type WriterCall<K extends WriterCallName> = Store[K]

export interface WriterOptions {
  path: string
  busyTimeoutMs: number
  maintenanceIntervalMs: number
  checkpointIntervalMs: number
}

export type WriterRequest =
  | { id: number, kind: 'writeBatch', ops: WriteOp[] }
  | { id: number, kind: 'call', name: WriterCallName, args: unknown[] }
  | { id: number, kind: 'close' }

/** A writeBatch outcome on the wire: first offsets, null (a commit), or an error. */
export type WireOutcome = number[] | null | { error: WireError }

export type WriterReply =
  | { kind: 'opened' }
  | { kind: 'openFailed', error: WireError }
  | { kind: 'maintenanceError', error: WireError }
  | { kind: 'result', id: number, result: unknown }
  | { kind: 'error', id: number, error: WireError }

export interface WireError {
  code: ErrorCode | undefined
  message: string
  hint: string | undefined
  context: Record<string, unknown>
}

export function errorToWire (error: unknown): WireError {
  if (isVigilError(error)) {
    // Only plain values cross: a context value that is not one (a cause, a buffer) is left out.
    const context: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(error.context)) {
      if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) context[key] = value
    }
    return { code: error.code, message: error.message, hint: error.hint, context }
  }
  return { code: undefined, message: error instanceof Error ? error.message : String(error), hint: undefined, context: {} }
}

/** The error again; one without a code becomes `fallback` (the writer thread failed in an unforeseen way). */
export function errorFromWire (wire: WireError, fallback: ErrorCode = 'VGL_LOG_BACKEND_ERROR'): VigilError {
  return new VigilError(wire.code ?? fallback, wire.message, { ...wire.context, ...(wire.hint === undefined ? {} : { hint: wire.hint }) })
}
