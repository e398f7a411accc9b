/**
 * Vigil's coded errors. Every error a user can meet carries a stable `code` from the catalog
 * (never reused, documented in docs/errors.md, kept in sync by test/errors.test.ts), a message
 * that names what is wrong, enumerable context (topic, partition, key, field …) and a hint.
 */
import { errorCatalog, type ErrorCode, type ErrorSpec } from './error-catalog.ts'

export { errorCatalog, type ErrorCode }

const kVigilError = Symbol.for('vigil.error')

export interface ErrorContext {
  cause?: unknown
  /** Overrides the catalog's hint when the caller knows better what to do. */
  hint?: string
  /** Overrides the catalog's HTTP status (e.g. 415 rather than 400 for a bad request). */
  statusCode?: number
  [key: string]: unknown
}

export class VigilError extends Error {
  readonly code: ErrorCode
  readonly hint: string
  readonly retryable: boolean
  readonly statusCode: number
  readonly context: Readonly<Record<string, unknown>>

  constructor (code: ErrorCode, message: string, context: ErrorContext = {}) {
    const { cause, hint, statusCode, ...rest } = context
    super(message, cause === undefined ? undefined : { cause })
    const spec: ErrorSpec = errorCatalog[code]
    this.name = 'VigilError'
    this.code = code
    this.hint = hint ?? spec.hint
    this.retryable = spec.retryable ?? false
    this.statusCode = statusCode ?? spec.status ?? 500
    this.context = rest
  }

  /** Survives duplicate installs of the package, unlike a plain instanceof. */
  static override [Symbol.hasInstance] (value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kVigilError] === true
  }

  get [kVigilError] (): true { return true }

  toJSON (): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, ...this.context }
  }
}

export function isVigilError (value: unknown, code?: ErrorCode): value is VigilError {
  return value instanceof VigilError && (code === undefined || value.code === code)
}

/** Formats an error for a terminal: the message, the code, and what to do. */
export function formatError (error: unknown): string {
  if (isVigilError(error)) {
    const context = Object.entries(error.context)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    return `error ${error.code}: ${error.message}` +
      (context.length > 0 ? `\n  context: ${context.join(' ')}` : '') +
      `\n  hint: ${error.hint}`
  }
  if (error instanceof Error) return `error: ${error.message}`
  return `error: ${String(error)}`
}
