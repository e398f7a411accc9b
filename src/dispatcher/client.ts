/**
 * The CISO Assistant REST client: undici with a connection pool, timeouts (connect, headers, body), TLS
 * verification and an extra CA; `Authorization: Token <PAT>` on every call. Failures become
 * coded errors the pipeline classifies:
 * - 429, 5xx → VGL_DISPATCHER_HTTP_RETRYABLE (Retry-After honoured);
 * - 401/403  → VGL_DISPATCHER_AUTH_FAILED (blocking: retried without dead-lettering every record);
 * - other 4xx → VGL_DISPATCHER_HTTP_REJECTED (permanent), quoting the backend's answer;
 * - timeouts → VGL_DISPATCHER_TIMEOUT; connection errors → VGL_DISPATCHER_NETWORK (blocking when
 *   the API cannot be reached at all: connection refused, unknown host, untrusted certificate).
 * `next` links (relative, from core/pagination.py) are resolved against the API origin, and only
 * ever followed on that origin, so the token never leaves for another host.
 */
import { readFileSync } from 'node:fs'
import { Agent, request, type Dispatcher } from 'undici'
import { VigilError, isVigilError } from '../errors.ts'
import { describeNetworkError, isNetworkError, parseRetryAfter } from '../pipeline/classify.ts'
import { redactSecrets } from '../pipeline/dead-letter.ts'
import { contentDisposition } from './messages.ts'
import type { Resource, Selector } from './model.ts'

export interface CisoClientOptions {
  /** Base URL ending in /api, e.g. https://ciso.example.com/api */
  url: string
  token: string
  requestTimeoutMs: number
  verifyCertificate: boolean
  caFile?: string | undefined
  maxConnections: number
  /** Most result pages followed for one selector (default 1000). */
  maxPages?: number
}

export interface Page<T> { count?: number, next?: string | null, results?: T[] }

interface Call {
  method: 'GET' | 'PATCH' | 'POST'
  path: string
  headers?: Record<string, string>
  body?: Buffer | string
  /** Parse the answer as JSON (default true). */
  json?: boolean
  signal?: AbortSignal | undefined
}

export class CisoClient {
  readonly #base: URL
  readonly #token: string
  readonly #timeoutMs: number
  readonly #agent: Agent
  readonly #maxPages: number

  constructor (options: CisoClientOptions) {
    let base: URL
    try {
      base = new URL(options.url.replace(/\/+$/, '') + '/')
    } catch (cause) {
      throw new VigilError('VGL_CONFIG_INVALID', `dispatcher.api.url ${JSON.stringify(options.url)} is not a URL`, { key: 'dispatcher.api.url', cause })
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new VigilError('VGL_CONFIG_INVALID', `dispatcher.api.url must be http(s), got ${base.protocol}`, { key: 'dispatcher.api.url' })
    }
    if (options.token === '') {
      throw new VigilError('VGL_CONFIG_INVALID', 'dispatcher.api.token is empty: CISO Assistant needs a personal access token', {
        key: 'dispatcher.api.token',
        hint: 'Set USER_TOKEN (or VIGIL_DISPATCHER_API_TOKEN) to a personal access token created in CISO Assistant (Profile → Settings → Generate new token).'
      })
    }
    this.#base = base
    this.#token = options.token
    this.#timeoutMs = options.requestTimeoutMs
    this.#maxPages = options.maxPages ?? 1000
    let ca: string | undefined
    if (options.caFile !== undefined && options.caFile !== '') {
      try {
        ca = readFileSync(options.caFile, 'utf8')
      } catch (cause) {
        throw new VigilError('VGL_CONFIG_INVALID', `cannot read dispatcher.api.caFile ${options.caFile}: ${(cause as Error).message}`, { key: 'dispatcher.api.caFile', cause })
      }
    }
    this.#agent = new Agent({
      connections: options.maxConnections,
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
      connect: { timeout: options.requestTimeoutMs, rejectUnauthorized: options.verifyCertificate, ...(ca === undefined ? {} : { ca }) }
    })
  }

  /** The API URL, for logs. */
  get url (): string {
    return this.#base.href
  }

  /**
   * The ids a selector matches, following every `next` link. Throws VGL_DISPATCHER_NO_MATCH when
   * none and VGL_DISPATCHER_TOO_MANY_MATCHES when `single` matched several, each with the count.
   */
  async resolve (resource: Resource, selector: Selector, signal?: AbortSignal): Promise<string[]> {
    const query = new URLSearchParams(selector.filters).toString()
    let path: string | null = `${resource}/?${query}`
    const ids: string[] = []
    let count: number | undefined
    for (let pages = 0; path !== null; pages++) {
      if (pages >= this.#maxPages) {
        throw new VigilError('VGL_DISPATCHER_TOO_MANY_MATCHES', `selector ${describeSelector(selector)} on /${resource}/ still had more pages after ${this.#maxPages}`, { resource, pages })
      }
      const body = await this.#call({ method: 'GET', path, headers: { accept: 'application/json' }, signal }) as Page<{ id?: unknown }> | Array<{ id?: unknown }>
      const results = Array.isArray(body) ? body : body.results
      if (!Array.isArray(results)) throw new VigilError('VGL_DISPATCHER_RESPONSE_INVALID', `GET /${resource}/ answered without a results list`, { resource })
      for (const item of results) {
        if (typeof item?.id !== 'string') throw new VigilError('VGL_DISPATCHER_RESPONSE_INVALID', `GET /${resource}/ answered an object without an id`, { resource })
        ids.push(item.id)
      }
      if (!Array.isArray(body) && typeof body.count === 'number') count = body.count
      // A single-target selector fails as soon as a second match shows up.
      if (selector.target === 'single' && (ids.length > 1 || (count ?? 0) > 1)) break
      path = Array.isArray(body) || typeof body.next !== 'string' || body.next === '' ? null : body.next
    }
    const matched = Math.max(ids.length, count ?? 0)
    if (matched === 0) {
      throw new VigilError('VGL_DISPATCHER_NO_MATCH', `no object of /${resource}/ matches the selector ${describeSelector(selector)} (0 matches)`, { resource, matches: 0 })
    }
    if (selector.target === 'single' && matched > 1) {
      throw new VigilError('VGL_DISPATCHER_TOO_MANY_MATCHES', `expected a single object of /${resource}/ for the selector ${describeSelector(selector)}, but ${matched} match`, { resource, matches: matched })
    }
    return ids
  }

  async get (resource: Resource, id: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return await this.#call({ method: 'GET', path: `${resource}/${encodeURIComponent(id)}/`, headers: { accept: 'application/json' }, signal }) as Record<string, unknown>
  }

  async patch (resource: Resource, id: string, values: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return await this.#call({
      method: 'PATCH',
      path: `${resource}/${encodeURIComponent(id)}/`,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(values),
      signal
    }) as Record<string, unknown>
  }

  /** POST /evidences/ with a form-encoded name (as the dispatcher does); the id of the new evidence. */
  async createEvidence (name: string, signal?: AbortSignal): Promise<string> {
    const created = await this.#call({
      method: 'POST',
      path: 'evidences/',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ name }).toString(),
      signal
    }) as { id?: unknown }
    if (typeof created?.id !== 'string') throw new VigilError('VGL_DISPATCHER_RESPONSE_INVALID', 'POST /evidences/ answered without an id', { resource: 'evidences' })
    return created.id
  }

  /** POST /evidences/{id}/upload/: the raw bytes, no Content-Type, the name in Content-Disposition. */
  async upload (evidenceId: string, fileName: string, bytes: Buffer, signal?: AbortSignal): Promise<void> {
    await this.#call({
      method: 'POST',
      path: `evidences/${encodeURIComponent(evidenceId)}/upload/`,
      headers: { 'content-disposition': contentDisposition(fileName) },
      body: bytes,
      json: false,
      signal
    })
  }

  async close (): Promise<void> {
    await this.#agent.close()
  }

  /** Resolves a path or a `next` link against the API, keeping only path and query: the origin is always the API's. */
  #target (path: string): URL {
    const resolved = new URL(path, this.#base)
    const target = new URL(this.#base.origin)
    target.pathname = resolved.pathname
    target.search = resolved.search
    return target
  }

  async #call (call: Call): Promise<unknown> {
    const target = this.#target(call.path)
    const where = `${call.method} ${target.pathname}`
    // Timeouts are undici's (connect, headers, body: requestTimeoutMs each), with no timer of our own per call.
    let response: Dispatcher.ResponseData
    try {
      response = await request(target, {
        dispatcher: this.#agent,
        method: call.method,
        headers: { ...call.headers, authorization: `Token ${this.#token}` },
        ...(call.body === undefined ? {} : { body: call.body }),
        ...(call.signal === undefined ? {} : { signal: call.signal })
      })
    } catch (error) {
      throw this.#transportError(error, where)
    }
    let text: string
    try {
      text = await response.body.text()
    } catch (error) {
      throw this.#transportError(error, where)
    }
    const status = response.statusCode
    if (status >= 200 && status < 300) {
      if (call.json === false || text === '') return undefined
      try {
        return JSON.parse(text)
      } catch {
        throw new VigilError('VGL_DISPATCHER_RESPONSE_INVALID', `${where} answered ${status} with a body that is not JSON: ${excerpt(text)}`, { status })
      }
    }
    const detail = `${where} answered ${status}: ${excerpt(text)}`
    const context = { status, method: call.method, path: target.pathname }
    if (status === 401 || status === 403) {
      throw new VigilError('VGL_DISPATCHER_AUTH_FAILED', `${detail} (is the personal access token valid?)`, { ...context, blocking: true })
    }
    if (status === 429 || status >= 500) {
      const header = response.headers['retry-after']
      const retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header)
      throw new VigilError('VGL_DISPATCHER_HTTP_RETRYABLE', detail, { ...context, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) })
    }
    throw new VigilError('VGL_DISPATCHER_HTTP_REJECTED', detail, context)
  }

  #transportError (error: unknown, where: string): VigilError {
    if (isVigilError(error)) return error
    const e = error as Error
    if (e.name === 'TimeoutError' || (e as { code?: string }).code === 'UND_ERR_CONNECT_TIMEOUT' || (e as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT' || (e as { code?: string }).code === 'UND_ERR_BODY_TIMEOUT') {
      return new VigilError('VGL_DISPATCHER_TIMEOUT', `${where} got no answer within ${this.#timeoutMs} ms`, { timeoutMs: this.#timeoutMs, cause: error })
    }
    if (e.name === 'AbortError') {
      return new VigilError('VGL_PIPELINE_TRANSIENT', `${where} was aborted (the pipeline is stopping or the partition was revoked)`, { cause: error })
    }
    const message = redactSecrets(isNetworkError(error) ? describeNetworkError(error) : (e.message ?? String(error)), [this.#token])
    // Refused connections, unknown hosts and untrusted certificates are the target's problem, not
    // the record's: blocking, so a backend outage does not dead-letter the whole backlog.
    const unreachable = targetUnreachable(error)
    return new VigilError('VGL_DISPATCHER_NETWORK', `${where} failed: ${message}`, {
      cause: error,
      ...(unreachable ? { blocking: true } : {}),
      ...(unreachable && /cert|self.signed|unable to (get|verify)/i.test(message) ? { hint: 'The API\'s TLS certificate is not trusted: set dispatcher.api.caFile to the CA that signed it (or VERIFY_CERTIFICATE=False to skip the check).' } : {})
    })
  }
}

const unreachableCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN'])

function targetUnreachable (error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && (unreachableCodes.has(code) || code.startsWith('ERR_TLS_CERT') || /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code))) return true
    if (e instanceof AggregateError && e.errors.some(targetUnreachable)) return true
  }
  return false
}

function excerpt (text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  if (flat === '') return '(empty body)'
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat
}

export function describeSelector (selector: Selector): string {
  return `{${selector.filters.map(([k, v]) => `${k}=${v}`).join(', ')}${selector.target === 'multiple' ? ', target=multiple' : ''}}`
}
