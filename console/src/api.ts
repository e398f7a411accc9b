/**
 * The console's one way to the server: every request carries the tab's token (sessionStorage,
 * so it is gone when the tab closes) and every failure becomes an ApiError whose message is the
 * server's own (a VigilError's message and hint), so pages can show it as it is.
 */
const tokenKey = 'vigil.token'

export function getToken (): string | null {
  return sessionStorage.getItem(tokenKey)
}

export function setToken (token: string | null): void {
  if (token === null) sessionStorage.removeItem(tokenKey)
  else sessionStorage.setItem(tokenKey, token)
}

let principalName = ''

/** Who is signed in (from /v1/access/whoami), for pages that say who did an action. */
export function signedInAs (): string {
  return principalName
}

export function setSignedInAs (name: string): void {
  principalName = name
}

export class ApiError extends Error {
  readonly status: number
  readonly code: string | undefined
  readonly body: unknown
  constructor (status: number, message: string, code: string | undefined, body: unknown) {
    super(message)
    this.status = status
    this.code = code
    this.body = body
  }
}

export interface RequestOptions {
  method?: string
  body?: unknown
  /** Send this token instead of the stored one (the sign-in form checks a token before keeping it). */
  token?: string
  /** The body as text (the metrics page), not JSON. */
  text?: boolean
  signal?: AbortSignal
}

export async function api<T = unknown> (path: string, options: RequestOptions = {}): Promise<T> {
  // x-vigil-console: the self-audit records a person's actions here as coming from the console.
  const headers: Record<string, string> = { accept: 'application/json', 'x-vigil-console': '1' }
  const token = options.token ?? getToken()
  if (token !== null && token !== '') headers.authorization = `Bearer ${token}`
  let body: string | undefined
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  const init: RequestInit = { method: options.method ?? 'GET', headers }
  if (body !== undefined) init.body = body
  if (options.signal !== undefined) init.signal = options.signal
  const response = await fetch(path, init)
  const text = await response.text()
  if (!response.ok) {
    let parsed: unknown = text
    try { parsed = JSON.parse(text) } catch { /* not JSON: keep the text */ }
    throw new ApiError(response.status, messageOf(response.status, parsed), codeOf(parsed), parsed)
  }
  if (options.text === true) return text as T
  return (text === '' ? undefined : JSON.parse(text)) as T
}

function codeOf (body: unknown): string | undefined {
  if (typeof body === 'object' && body !== null) {
    const b = body as Record<string, unknown>
    if (typeof b.code === 'string') return b.code
    if (typeof b.error_code === 'number') return String(b.error_code)
  }
  return undefined
}

function messageOf (status: number, body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    const b = body as Record<string, unknown>
    const parts: string[] = []
    if (typeof b.message === 'string') parts.push(b.message)
    else if (typeof b.detail === 'string') parts.push(b.detail)
    else if (Array.isArray(b.detail)) parts.push(b.detail.map(d => `${(d as { loc?: unknown[] }).loc?.join('.') ?? ''}: ${(d as { msg?: string }).msg ?? ''}`).join('; '))
    if (Array.isArray(b.fields) && b.fields.length > 0) parts.push(`(field: ${b.fields.join(', ')})`)
    if (typeof b.field === 'string') parts.push(`(field: ${b.field})`)
    if (typeof b.hint === 'string') parts.push(b.hint)
    if (parts.length > 0) return parts.join(' ')
  }
  if (typeof body === 'string' && body !== '') return `${status}: ${body.slice(0, 300)}`
  return `the server answered ${status}`
}

/** Query string from the filled-in fields only. */
export function query (params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s === '' ? '' : `?${s}`
}
