/**
 * Error classification: every failure of a record becomes a coded VigilError that says whether
 * trying again can help. Rules, in order:
 * - a VigilError keeps its code; the catalog's `retryable` decides; `context.retryAfterMs` is
 *   honoured; `context.blocking` marks failures of the pipeline's target rather than of the record
 *   (a refused token, an unreachable backend): those are retried with backoff and without limit
 *   instead of dead-lettering every record;
 * - network errors (ECONNRESET, ECONNREFUSED, undici's socket errors, `fetch failed`) and timeouts
 *   (TimeoutError, AbortError from a timeout signal) are transient;
 * - programmer errors (TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError)
 *   are permanent and never retried silently: the stack is kept for the ERROR log line;
 * - anything else is an unclassified handler failure, retried with backoff.
 */
import { VigilError, isVigilError, type ErrorContext } from '../errors.ts'

export interface Classified {
  error: VigilError
  retryable: boolean
  /** Retried without counting against maxAttempts (the target refuses every record, not this one). */
  blocking: boolean
  /** The target asked to wait this long (Retry-After). */
  retryAfterMs: number | undefined
  /** A programming error: logged with its stack at ERROR. */
  programmer: boolean
}

const networkCodes = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  'EAI_AGAIN', 'ENOTFOUND', 'EADDRNOTAVAIL', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_ABORTED'
])

const programmerErrorNames = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError'])

/** A failure that may pass if the record is tried again later (the handler says so). */
export function transientError (message: string, context: ErrorContext & { retryAfterMs?: number } = {}): VigilError {
  return new VigilError('VGL_PIPELINE_TRANSIENT', message, context)
}

/** A failure that trying again cannot fix: the record is dead-lettered at once. */
export function permanentError (message: string, context: ErrorContext = {}): VigilError {
  return new VigilError('VGL_PIPELINE_PERMANENT', message, context)
}

export function classifyError (thrown: unknown): Classified {
  if (isVigilError(thrown)) {
    const retryAfter = thrown.context.retryAfterMs
    return {
      error: thrown,
      retryable: thrown.retryable,
      blocking: thrown.context.blocking === true,
      retryAfterMs: typeof retryAfter === 'number' && retryAfter >= 0 ? retryAfter : undefined,
      programmer: false
    }
  }
  const error = thrown instanceof Error ? thrown : new Error(String(thrown))
  if (isTimeout(error)) {
    return transient(new VigilError('VGL_PIPELINE_HANDLER_TIMEOUT', `handler timed out: ${error.message}`, { cause: error }))
  }
  if (isNetworkError(error)) {
    return transient(new VigilError('VGL_PIPELINE_TRANSIENT', `network error: ${describeNetworkError(error)}`, { cause: error }))
  }
  if (programmerErrorNames.has(error.name) || programmerErrorNames.has(error.constructor.name)) {
    return {
      error: new VigilError('VGL_PIPELINE_PROGRAMMER_ERROR', `${error.name}: ${error.message}`, { cause: error }),
      retryable: false,
      blocking: false,
      retryAfterMs: undefined,
      programmer: true
    }
  }
  return transient(new VigilError('VGL_PIPELINE_HANDLER_FAILED', error.message === '' ? error.name : error.message, { cause: error }))
}

function transient (error: VigilError): Classified {
  return { error, retryable: true, blocking: false, retryAfterMs: undefined, programmer: false }
}

function isTimeout (error: Error): boolean {
  return error.name === 'TimeoutError' || (error.name === 'AbortError' && (error as { cause?: { name?: string } }).cause?.name === 'TimeoutError')
}

/** Node's fetch throws TypeError('fetch failed') with the socket error as its cause: that is a network error, not a bug. */
export function isNetworkError (error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && networkCodes.has(code)) return true
    if (e.message === 'fetch failed' || e.name === 'SocketError' || e.name === 'ConnectTimeoutError') return true
    if (e instanceof AggregateError && e.errors.some(isNetworkError)) return true
  }
  return false
}

export function describeNetworkError (error: unknown): string {
  const parts: string[] = []
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    const text = typeof code === 'string' && !e.message.includes(code) ? `${e.message} (${code})` : e.message
    if (text !== '' && !parts.includes(text)) parts.push(text)
    if (e instanceof AggregateError && e.errors[0] !== undefined) parts.push(describeNetworkError(e.errors[0]))
  }
  return parts.join(': ')
}

/**
 * Parses a Retry-After header (delta seconds or an HTTP date) into milliseconds from `now`;
 * undefined when absent or unreadable.
 */
export function parseRetryAfter (value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined
  const text = value.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000)
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
