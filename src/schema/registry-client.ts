/**
 * A client for Confluent-compatible registries over HTTP(S): Confluent Schema Registry, Redpanda,
 * Karapace, Apicurio's ccompat API (`https://host/apis/ccompat/v7`) and Vigil's own (`/registry`
 * under `vigil serve`). Basic auth, a custom CA, certificate verification that can be turned off,
 * keep-alive connections and a timeout per request.
 *
 * It implements SchemaRegistryApi, so the serde, produce-side validation and the CLI use it exactly
 * like the built-in registry. Registry errors come back as VigilErrors with the matching
 * VGL_SCHEMA_* code and the registry's own `error_code` in the context.
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { VigilError } from '../errors.ts'
import { vglCodeOfConfluent } from './error-codes.ts'
import type {
  CompatibilityLevel, CompatibilityResult, DeletedOption, RegistryMode, SchemaById, SchemaInput,
  SchemaRegistryApi, SchemaType, SubjectVersion, VersionSelector
} from './types.ts'

export interface RegistryClientOptions {
  /** Base URL, path prefix included: http://host:8081, https://host/apis/ccompat/v7, http://127.0.0.1:8080/registry. */
  url: string
  username?: string
  password?: string
  /** PEM file of the CA that signed the registry's certificate. */
  caFile?: string | undefined
  /** PEM text of that CA (instead of caFile). */
  ca?: string
  rejectUnauthorized?: boolean
  requestTimeoutMs?: number
  /** Extra headers on every request (e.g. Authorization: Bearer … for Vigil's API tokens). */
  headers?: Record<string, string>
}

const contentType = 'application/vnd.schemaregistry.v1+json'
const tlsErrorPattern = /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_TLS|ERR_SSL|HOSTNAME_MISMATCH|ERR_CERT)/

export class RegistryClient implements SchemaRegistryApi {
  readonly #base: URL
  readonly #agent: http.Agent
  readonly #headers: Record<string, string>
  readonly #timeoutMs: number
  readonly #request: typeof http.request

  constructor (options: RegistryClientOptions) {
    let base: URL
    try {
      base = new URL(options.url)
    } catch {
      throw new VigilError('VGL_CONFIG_INVALID', `schemaRegistry.url ${JSON.stringify(options.url)} is not a URL`, { key: 'schemaRegistry.url' })
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new VigilError('VGL_CONFIG_INVALID', `schemaRegistry.url must start with http:// or https:// (got ${base.protocol})`, { key: 'schemaRegistry.url' })
    }
    if (!base.pathname.endsWith('/')) base.pathname += '/'
    const username = options.username ?? decodeURIComponent(base.username)
    const password = options.password ?? decodeURIComponent(base.password)
    base.username = ''
    base.password = ''
    this.#base = base
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000
    this.#headers = { accept: `${contentType}, application/json`, ...options.headers }
    if (username !== '') this.#headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
    if (base.protocol === 'https:') {
      let ca = options.ca
      if (ca === undefined && options.caFile !== undefined && options.caFile !== '') {
        try {
          ca = readFileSync(options.caFile, 'utf8')
        } catch (cause) {
          throw new VigilError('VGL_CONFIG_INVALID', `cannot read schemaRegistry.caFile ${options.caFile}: ${(cause as Error).message}`, { key: 'schemaRegistry.caFile', cause })
        }
      }
      this.#agent = new https.Agent({ keepAlive: true, rejectUnauthorized: options.rejectUnauthorized ?? true, ...(ca === undefined ? {} : { ca }) })
      this.#request = https.request
    } else {
      this.#agent = new http.Agent({ keepAlive: true })
      this.#request = http.request
    }
  }

  /** The URL without credentials, safe to print. */
  get url (): string { return this.#base.toString().replace(/\/$/, '') }

  async listSubjects (options: DeletedOption & { prefix?: string } = {}): Promise<string[]> {
    return await this.#call('GET', 'subjects', { deleted: options.deleted, subjectPrefix: options.prefix === '' ? undefined : options.prefix }) as string[]
  }

  async lookup (subject: string, input: SchemaInput, options: DeletedOption = {}): Promise<SubjectVersion> {
    return toSubjectVersion(await this.#call('POST', `subjects/${enc(subject)}`, { deleted: options.deleted }, bodyOf(input)))
  }

  async register (subject: string, input: SchemaInput & { id?: number, version?: number }, options: { normalize?: boolean } = {}): Promise<{ id: number }> {
    const body: Record<string, unknown> = bodyOf(input)
    if (input.id !== undefined) body.id = input.id
    if (input.version !== undefined) body.version = input.version
    const result = await this.#call('POST', `subjects/${enc(subject)}/versions`, { normalize: options.normalize }, body) as { id: number }
    return { id: result.id }
  }

  async listVersions (subject: string, options: DeletedOption = {}): Promise<number[]> {
    return await this.#call('GET', `subjects/${enc(subject)}/versions`, { deleted: options.deleted }) as number[]
  }

  async getVersion (subject: string, version: VersionSelector, options: DeletedOption = {}): Promise<SubjectVersion> {
    return toSubjectVersion(await this.#call('GET', `subjects/${enc(subject)}/versions/${version}`, { deleted: options.deleted }))
  }

  async getSchemaById (id: number): Promise<SchemaById> {
    const result = await this.#call('GET', `schemas/ids/${id}`) as { schema: string, schemaType?: SchemaType }
    return { schema: result.schema, schemaType: result.schemaType ?? 'AVRO' }
  }

  async getVersionsById (id: number, options: DeletedOption = {}): Promise<Array<{ subject: string, version: number }>> {
    return await this.#call('GET', `schemas/ids/${id}/versions`, { deleted: options.deleted }) as Array<{ subject: string, version: number }>
  }

  async deleteSubject (subject: string, options: { permanent?: boolean } = {}): Promise<number[]> {
    return await this.#call('DELETE', `subjects/${enc(subject)}`, { permanent: options.permanent }) as number[]
  }

  async deleteVersion (subject: string, version: VersionSelector, options: { permanent?: boolean } = {}): Promise<number> {
    return await this.#call('DELETE', `subjects/${enc(subject)}/versions/${version}`, { permanent: options.permanent }) as number
  }

  async getConfig (subject: string | null, options: { defaultToGlobal?: boolean } = {}): Promise<CompatibilityLevel> {
    const path = subject === null ? 'config' : `config/${enc(subject)}`
    const result = await this.#call('GET', path, { defaultToGlobal: options.defaultToGlobal }) as { compatibilityLevel?: CompatibilityLevel, compatibility?: CompatibilityLevel }
    return (result.compatibilityLevel ?? result.compatibility) as CompatibilityLevel
  }

  async setConfig (subject: string | null, level: CompatibilityLevel): Promise<CompatibilityLevel> {
    const path = subject === null ? 'config' : `config/${enc(subject)}`
    const result = await this.#call('PUT', path, {}, { compatibility: level }) as { compatibility?: CompatibilityLevel, compatibilityLevel?: CompatibilityLevel }
    return (result.compatibility ?? result.compatibilityLevel ?? level)
  }

  async deleteConfig (subject: string | null): Promise<CompatibilityLevel> {
    const path = subject === null ? 'config' : `config/${enc(subject)}`
    const result = await this.#call('DELETE', path) as { compatibilityLevel?: CompatibilityLevel, compatibility?: CompatibilityLevel }
    return (result.compatibilityLevel ?? result.compatibility) as CompatibilityLevel
  }

  async checkCompatibility (subject: string, version: VersionSelector | 'all', input: SchemaInput): Promise<CompatibilityResult> {
    const path = version === 'all'
      ? `compatibility/subjects/${enc(subject)}/versions`
      : `compatibility/subjects/${enc(subject)}/versions/${version}`
    const result = await this.#call('POST', path, { verbose: true }, bodyOf(input)) as { is_compatible: boolean, messages?: unknown[] }
    return { isCompatible: result.is_compatible, messages: (result.messages ?? []).map(m => typeof m === 'string' ? m : JSON.stringify(m)) }
  }

  async getMode (subject: string | null, options: { defaultToGlobal?: boolean } = {}): Promise<RegistryMode> {
    const result = await this.#call('GET', subject === null ? 'mode' : `mode/${enc(subject)}`, { defaultToGlobal: options.defaultToGlobal }) as { mode: RegistryMode }
    return result.mode
  }

  async setMode (subject: string | null, mode: RegistryMode, options: { force?: boolean } = {}): Promise<RegistryMode> {
    const result = await this.#call('PUT', subject === null ? 'mode' : `mode/${enc(subject)}`, { force: options.force }, { mode }) as { mode: RegistryMode }
    return result.mode
  }

  async deleteMode (subject: string): Promise<RegistryMode> {
    const result = await this.#call('DELETE', `mode/${enc(subject)}`) as { mode: RegistryMode }
    return result.mode
  }

  async schemaTypes (): Promise<SchemaType[]> {
    return await this.#call('GET', 'schemas/types') as SchemaType[]
  }

  async close (): Promise<void> {
    this.#agent.destroy()
  }

  async #call (method: string, path: string, query: Record<string, string | boolean | undefined> = {}, body?: unknown): Promise<unknown> {
    const url = new URL(path, this.#base)
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== false) url.searchParams.set(k, String(v))
    }
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const headers: Record<string, string> = { ...this.#headers }
    if (payload !== undefined) {
      headers['content-type'] = contentType
      headers['content-length'] = String(payload.length)
    }
    const { status, text } = await new Promise<{ status: number, text: string }>((resolve, reject) => {
      const req = this.#request(url, { method, headers, agent: this.#agent, timeout: this.#timeoutMs }, res => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${this.#timeoutMs} ms`), { code: 'ETIMEDOUT' })))
      req.on('error', reject)
      req.end(payload)
    }).catch((cause: NodeJS.ErrnoException) => {
      const code = cause.code ?? ''
      if (tlsErrorPattern.test(code)) {
        throw new VigilError('VGL_SCHEMA_REGISTRY_AUTH_FAILED', `TLS handshake with the schema registry at ${this.url} failed: ${cause.message}`, { url: this.url, cause })
      }
      throw new VigilError('VGL_SCHEMA_REGISTRY_UNREACHABLE', `Schema registry at ${this.url} is unreachable: ${cause.message}`, { url: this.url, cause })
    })
    let parsed: unknown
    try {
      parsed = text === '' ? undefined : JSON.parse(text)
    } catch {
      parsed = text
    }
    if (status >= 200 && status < 300) return parsed
    const errorBody = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { error_code?: number, message?: string }
    const registryCode = typeof errorBody.error_code === 'number' ? errorBody.error_code : status
    const message = errorBody.message ?? (typeof parsed === 'string' && parsed !== '' ? parsed : `HTTP ${status}`)
    const code = status === 401 || status === 403 ? 'VGL_SCHEMA_REGISTRY_AUTH_FAILED' : vglCodeOfConfluent(registryCode)
    throw new VigilError(code, message, { registryErrorCode: registryCode, statusCode: status, url: `${method} ${url.pathname}` })
  }
}

function enc (subject: string): string {
  return encodeURIComponent(subject)
}

function bodyOf (input: SchemaInput): Record<string, unknown> {
  const body: Record<string, unknown> = { schema: input.schema }
  if (input.schemaType !== undefined && input.schemaType !== 'AVRO') body.schemaType = input.schemaType
  if (input.references !== undefined && input.references.length > 0) body.references = input.references
  return body
}

function toSubjectVersion (value: unknown): SubjectVersion {
  const v = value as { subject: string, version: number, id: number, schema: string, schemaType?: SchemaType }
  return { subject: v.subject, version: v.version, id: v.id, schema: v.schema, schemaType: v.schemaType ?? 'AVRO' }
}

export function createRegistryClient (options: RegistryClientOptions): RegistryClient {
  return new RegistryClient(options)
}
