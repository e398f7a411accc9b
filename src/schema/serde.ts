/**
 * The serde: records in the Confluent wire format, Avro (or JSON Schema) bodies, schemas fetched
 * from a registry (Vigil's own or an external one) and cached by id for the life of the serde.
 *
 * Hot paths are synchronous once a schema is cached: `encoderFor(subject)` gives a sync encoder,
 * `decodeMany(buffers)` fetches the unknown ids of a whole batch once, then decodes without a
 * promise per record. Errors are coded: VGL_SCHEMA_SERDE_UNKNOWN_ID, _BAD_MAGIC, _TRUNCATED and
 * _MISMATCH (naming the field path), and VGL_SCHEMA_SUBJECT_NO_SCHEMA for an empty subject.
 */
import type { Type } from 'avsc'
import { VigilError, isVigilError } from '../errors.ts'
import { decodingType, describeMismatch, fromJsonValue, toJsonValue } from './avro.ts'
import { describeJsonMismatch } from './json-schema.ts'
import { parseSchema, type ParsedSchema } from './parse.ts'
import type { SchemaRegistryApi, SchemaType } from './types.ts'
import { HEADER_SIZE, MAGIC_BYTE, frame, looksLikeConfluent, readSchemaId } from './wire-format.ts'

export { looksLikeConfluent }

/** What the serde needs from a registry. */
export type SerdeRegistry = Pick<SchemaRegistryApi, 'getSchemaById' | 'getVersion'> & Partial<Pick<SchemaRegistryApi, 'getVersionsById'>>

export interface SerdeOptions {
  registry: SerdeRegistry
  /** How long "the latest schema of a subject" is trusted before asking the registry again (default 5000 ms). */
  latestCacheTtlMs?: number
  /** How long an unknown id is remembered as unknown (default 1000 ms), so bad records do not flood the registry. */
  unknownIdTtlMs?: number
  /** Look up the subject of each new id (one extra registry call per id; default true). */
  resolveSubjects?: boolean
}

export interface DecodedRecord {
  schemaId: number
  schemaType: SchemaType
  /** A subject that holds the schema, when known. */
  subject: string | undefined
  value: unknown
}

export interface Encoder {
  readonly schemaId: number
  readonly schemaType: SchemaType
  readonly subject: string
  /** Encodes one value (plain JSON or avsc values) into a framed record; throws VGL_SCHEMA_SERDE_MISMATCH. */
  encode (value: unknown): Buffer
}

interface CachedSchema {
  id: number
  schemaType: SchemaType
  parsed: ParsedSchema
  subject: string | undefined
  encodeBody: (value: unknown) => Buffer
  decodeBody: (record: Buffer) => unknown
}

export class Serde {
  readonly #registry: SerdeRegistry
  readonly #latestTtlMs: number
  readonly #unknownTtlMs: number
  readonly #resolveSubjects: boolean
  readonly #byId = new Map<number, CachedSchema>()
  readonly #loading = new Map<number, Promise<CachedSchema>>()
  readonly #unknown = new Map<number, number>()
  readonly #latest = new Map<string, { id: number, at: number }>()
  #scratch = Buffer.allocUnsafe(64 * 1024)

  constructor (options: SerdeOptions) {
    this.#registry = options.registry
    this.#latestTtlMs = options.latestCacheTtlMs ?? 5000
    this.#unknownTtlMs = options.unknownIdTtlMs ?? 1000
    this.#resolveSubjects = options.resolveSubjects ?? true
  }

  // ---- encoding -------------------------------------------------------------------------------

  /** A synchronous encoder for the latest schema of `subject` (cached for latestCacheTtlMs). */
  async encoderFor (subject: string): Promise<Encoder> {
    const id = await this.#latestId(subject)
    return this.#encoderOf(await this.#load(id), subject)
  }

  /** A synchronous encoder for a given schema id. */
  async encoderForId (schemaId: number, subject = ''): Promise<Encoder> {
    return this.#encoderOf(await this.#load(schemaId), subject)
  }

  /** Encodes one value with the latest schema of `subject`. */
  async encode (subject: string, value: unknown): Promise<Buffer> {
    return (await this.encoderFor(subject)).encode(value)
  }

  /** Encodes a batch; failures stay in place as VigilErrors (each with its `index`). */
  async encodeMany (subject: string, values: readonly unknown[]): Promise<Array<Buffer | VigilError>> {
    const encoder = await this.encoderFor(subject)
    return values.map((value, index) => {
      try {
        return encoder.encode(value)
      } catch (error) {
        return withIndex(error, index)
      }
    })
  }

  // ---- decoding -------------------------------------------------------------------------------

  async decode (record: Buffer): Promise<DecodedRecord> {
    const id = readSchemaId(record)
    return this.#decodeWith(this.#byId.get(id) ?? await this.#load(id), record)
  }

  /** Decodes plain JSON out: Dates as ISO strings, bytes as base64 (for `vigil consume`). */
  async decodeToJson (record: Buffer): Promise<DecodedRecord> {
    const decoded = await this.decode(record)
    return { ...decoded, value: toJsonValue(decoded.value) }
  }

  /**
   * Decodes a batch: each unknown schema id is fetched once, then every record is decoded
   * synchronously. Failures stay in place as VigilErrors (each with its `index`).
   */
  async decodeMany (records: readonly Buffer[]): Promise<Array<DecodedRecord | VigilError>> {
    const out: Array<DecodedRecord | VigilError> = []
    let missing: number[] | undefined
    let lastId = -1
    let last: CachedSchema | undefined
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as Buffer
      if (record.length >= HEADER_SIZE && record[0] === MAGIC_BYTE) {
        const id = record.readUInt32BE(1)
        if (id !== lastId) {
          lastId = id
          last = this.#byId.get(id)
        }
        if (last !== undefined) {
          try {
            out.push({ schemaId: id, schemaType: last.schemaType, subject: last.subject, value: last.decodeBody(record) })
          } catch (error) {
            out.push(withIndex(error, i))
          }
          continue
        }
        ;(missing ??= []).push(i)
      }
      out.push(undefined as unknown as DecodedRecord)
      if (missing === undefined || missing[missing.length - 1] !== i) out[i] = withIndex(headerError(record), i)
    }
    if (missing !== undefined) {
      const ids = new Set(missing.map(i => (records[i] as Buffer).readUInt32BE(1)))
      await Promise.all([...ids].map(id => this.#load(id).catch(() => undefined)))
      for (const i of missing) {
        const record = records[i] as Buffer
        const id = record.readUInt32BE(1)
        const cached = this.#byId.get(id)
        try {
          out[i] = cached === undefined ? withIndex(unknownId(id), i) : this.#decodeWith(cached, record)
        } catch (error) {
          out[i] = withIndex(error, i)
        }
      }
    }
    return out
  }

  /** Synchronous decode when the id is cached; undefined when it is not (call `decode` then). */
  decodeCached (record: Buffer): DecodedRecord | undefined {
    const id = readSchemaId(record)
    const cached = this.#byId.get(id)
    return cached === undefined ? undefined : this.#decodeWith(cached, record)
  }

  /** The parsed schema of an id (fetched and cached). */
  async schemaOf (schemaId: number): Promise<ParsedSchema> {
    return (await this.#load(schemaId)).parsed
  }

  /** Forgets cached "latest" lookups (ids stay cached: an id never changes its schema). */
  invalidate (subject?: string): void {
    if (subject === undefined) this.#latest.clear()
    else this.#latest.delete(subject)
  }

  // ---- internals ------------------------------------------------------------------------------

  #decodeWith (cached: CachedSchema, record: Buffer): DecodedRecord {
    return { schemaId: cached.id, schemaType: cached.schemaType, subject: cached.subject, value: cached.decodeBody(record) }
  }

  #encoderOf (cached: CachedSchema, subject: string): Encoder {
    return { schemaId: cached.id, schemaType: cached.schemaType, subject, encode: cached.encodeBody }
  }

  async #latestId (subject: string): Promise<number> {
    const hit = this.#latest.get(subject)
    const now = Date.now()
    if (hit !== undefined && now - hit.at < this.#latestTtlMs) return hit.id
    let latest
    try {
      latest = await this.#registry.getVersion(subject, 'latest')
    } catch (error) {
      if (isVigilError(error, 'VGL_SCHEMA_SUBJECT_NOT_FOUND') || isVigilError(error, 'VGL_SCHEMA_VERSION_NOT_FOUND')) {
        throw new VigilError('VGL_SCHEMA_SUBJECT_NO_SCHEMA', `Subject ${subject} has no registered schema`, { subject, cause: error })
      }
      throw error
    }
    this.#latest.set(subject, { id: latest.id, at: now })
    const cached = this.#byId.get(latest.id)
    if (cached !== undefined && cached.subject === undefined) cached.subject = subject
    return latest.id
  }

  async #load (id: number): Promise<CachedSchema> {
    const cached = this.#byId.get(id)
    if (cached !== undefined) return cached
    const unknownAt = this.#unknown.get(id)
    if (unknownAt !== undefined && Date.now() - unknownAt < this.#unknownTtlMs) throw unknownId(id)
    let loading = this.#loading.get(id)
    if (loading === undefined) {
      loading = this.#fetch(id).finally(() => this.#loading.delete(id))
      this.#loading.set(id, loading)
    }
    return await loading
  }

  async #fetch (id: number): Promise<CachedSchema> {
    let found
    try {
      found = await this.#registry.getSchemaById(id)
    } catch (error) {
      if (isVigilError(error, 'VGL_SCHEMA_NOT_FOUND')) {
        this.#unknown.set(id, Date.now())
        throw unknownId(id)
      }
      throw error
    }
    let subject: string | undefined
    if (this.#resolveSubjects && this.#registry.getVersionsById !== undefined) {
      try {
        subject = (await this.#registry.getVersionsById(id))[0]?.subject
      } catch {
        subject = undefined
      }
    }
    const parsed = parseSchema({ schema: found.schema, schemaType: found.schemaType }, Number.MAX_SAFE_INTEGER)
    const entry = this.#compile(id, parsed, subject)
    this.#byId.set(id, entry)
    this.#unknown.delete(id)
    return entry
  }

  #compile (id: number, parsed: ParsedSchema, subject: string | undefined): CachedSchema {
    if (parsed.schemaType === 'AVRO') {
      const type = parsed.avro.type
      const reader = decodingType(parsed.avro.json)
      return {
        id,
        schemaType: 'AVRO',
        parsed,
        subject,
        encodeBody: (value: unknown) => this.#encodeAvro(id, type, value),
        decodeBody: (record: Buffer) => decodeAvro(id, reader, record)
      }
    }
    const validate = parsed.json.validate
    return {
      id,
      schemaType: 'JSON',
      parsed,
      subject,
      encodeBody: (value: unknown) => {
        const problems = describeJsonMismatch(validate, value)
        if (problems.length > 0) throw mismatch(id, problems)
        return frame(id, Buffer.from(JSON.stringify(value)))
      },
      decodeBody: (record: Buffer) => {
        try {
          return JSON.parse(record.toString('utf8', HEADER_SIZE))
        } catch (cause) {
          throw new VigilError('VGL_SCHEMA_SERDE_MISMATCH', `Record body is not JSON (schema ${id}): ${(cause as Error).message}`, { schemaId: id })
        }
      }
    }
  }

  #encodeAvro (id: number, type: Type, value: unknown): Buffer {
    let attempt = value
    for (let pass = 0; pass < 2; pass++) {
      try {
        return this.#writeFramed(id, type, attempt)
      } catch {
        if (pass === 0) attempt = fromJsonValue(type, value)
      }
    }
    const problems = describeMismatch(type, attempt)
    throw mismatch(id, problems.length > 0 ? problems : ['the value cannot be encoded with this schema'])
  }

  #writeFramed (id: number, type: Type, value: unknown): Buffer {
    for (;;) {
      const scratch = this.#scratch
      scratch[0] = MAGIC_BYTE
      scratch.writeUInt32BE(id, 1)
      const end = type.encode(value, scratch, HEADER_SIZE)
      if (end >= 0) {
        const out = Buffer.allocUnsafe(end)
        scratch.copy(out, 0, 0, end)
        return out
      }
      // avsc answers with the (negative) number of bytes that did not fit.
      this.#scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end))
    }
  }
}

function decodeAvro (id: number, type: Type, record: Buffer): unknown {
  let result: { value: unknown, offset: number }
  try {
    result = type.decode(record, HEADER_SIZE)
  } catch (cause) {
    throw new VigilError('VGL_SCHEMA_SERDE_MISMATCH', `Record body does not match schema ${id}: ${(cause as Error).message}`, { schemaId: id })
  }
  if (result.offset < 0) {
    throw new VigilError('VGL_SCHEMA_SERDE_TRUNCATED', `Record body is truncated: schema ${id} needs more than the ${record.length - HEADER_SIZE} bytes present`, { schemaId: id, length: record.length })
  }
  if (result.offset !== record.length) {
    throw new VigilError('VGL_SCHEMA_SERDE_MISMATCH', `Record body does not match schema ${id}: ${record.length - result.offset} trailing bytes after the value`, { schemaId: id })
  }
  return result.value
}

/** The error readSchemaId gives for a record that is not framed. */
function headerError (record: Buffer): unknown {
  try {
    readSchemaId(record)
  } catch (error) {
    return error
  }
  return new VigilError('VGL_SCHEMA_SERDE_TRUNCATED', 'Record is not in the Confluent wire format')
}

function unknownId (id: number): VigilError {
  return new VigilError('VGL_SCHEMA_SERDE_UNKNOWN_ID', `Unknown schema id ${id}: the registry has no schema with this id`, { schemaId: id })
}

function mismatch (id: number, problems: string[]): VigilError {
  return new VigilError('VGL_SCHEMA_SERDE_MISMATCH', `Record does not match schema ${id}: ${problems.join('; ')}`, { schemaId: id, problems })
}

function withIndex (error: unknown, index: number): VigilError {
  if (isVigilError(error)) return new VigilError(error.code, error.message, { ...error.context, index, cause: error.cause })
  return new VigilError('VGL_SCHEMA_SERDE_MISMATCH', error instanceof Error ? error.message : String(error), { index, cause: error })
}

export function createSerde (options: SerdeOptions): Serde {
  return new Serde(options)
}
