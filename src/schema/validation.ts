/**
 * Produce-side validation: a topic bound to a subject (schemaRegistry.topicSubjects) accepts only
 * records that match the subject's schema, checked before anything reaches the log.
 *
 * For a bound topic, each record value is either
 * - already in the Confluent wire format: its schema id must be registered under the subject the
 *   binding names (or that its strategy derives from the record's name), have the binding's
 *   format, and its body must decode with that schema; or
 * - JSON text: it is encoded with the subject's latest schema (Avro, or framed JSON checked
 *   against a JSON Schema) and the encoded bytes replace the value.
 * Null values (tombstones) pass. Unbound topics are left alone.
 */
import { VigilError, isVigilError } from '../errors.ts'
import type { ProduceRecord } from '../log/types.ts'
import type { Serde } from './serde.ts'
import { subjectName, type SubjectNameStrategy } from './subject-strategy.ts'
import type { SchemaRegistryApi } from './types.ts'
import { looksLikeConfluent, readSchemaId } from './wire-format.ts'

export interface TopicSubjectBinding {
  topic: string
  subject?: string | undefined
  strategy?: SubjectNameStrategy
  format?: 'avro' | 'json'
}

export interface ProduceValidatorOptions {
  serde: Serde
  registry: Pick<SchemaRegistryApi, 'lookup' | 'getSchemaById'>
  bindings: readonly TopicSubjectBinding[]
}

export class ProduceValidator {
  readonly #serde: Serde
  readonly #registry: ProduceValidatorOptions['registry']
  readonly #bindings: Map<string, TopicSubjectBinding>
  /** `${id}\0${subject}` → whether the id is registered under the subject. */
  readonly #membership = new Map<string, boolean>()

  constructor (options: ProduceValidatorOptions) {
    this.#serde = options.serde
    this.#registry = options.registry
    this.#bindings = new Map(options.bindings.map(b => [b.topic, b]))
  }

  isBound (topic: string): boolean {
    return this.#bindings.has(topic)
  }

  bindingOf (topic: string): TopicSubjectBinding | undefined {
    return this.#bindings.get(topic)
  }

  /**
   * Checks (and for JSON input, encodes) the records of one produce call. All or nothing: throws
   * the first problem as a VigilError naming the record index and the field.
   */
  async prepare (topic: string, records: readonly ProduceRecord[]): Promise<ProduceRecord[]> {
    const results = await this.check(topic, records)
    const failed = results.find((r): r is VigilError => isVigilError(r))
    if (failed !== undefined) throw failed
    return results as ProduceRecord[]
  }

  /** Per record: the record to produce (possibly re-encoded), or the VigilError that refuses it. */
  async check (topic: string, records: readonly ProduceRecord[]): Promise<Array<ProduceRecord | VigilError>> {
    const binding = this.#bindings.get(topic)
    if (binding === undefined) return [...records]
    const out: Array<ProduceRecord | VigilError> = []
    for (let index = 0; index < records.length; index++) {
      const record = records[index] as ProduceRecord
      try {
        out.push(await this.#checkOne(topic, binding, record))
      } catch (error) {
        out.push(refuse(error, topic, index))
      }
    }
    return out
  }

  async #checkOne (topic: string, binding: TopicSubjectBinding, record: ProduceRecord): Promise<ProduceRecord> {
    const value = record.value
    if (value === null) return record
    const format = binding.format ?? 'avro'
    const strategy = binding.strategy ?? 'TopicNameStrategy'
    if (looksLikeConfluent(value)) {
      const id = readSchemaId(value)
      const parsed = await this.#serde.schemaOf(id)
      const expectedType = format === 'avro' ? 'AVRO' : 'JSON'
      if (parsed.schemaType !== expectedType) {
        throw new VigilError('VGL_SCHEMA_SERDE_MISMATCH', `Record uses schema ${id} of type ${parsed.schemaType}, but topic ${topic} takes ${expectedType}`, { schemaId: id })
      }
      const subject = binding.subject ?? subjectName(strategy, { topic, recordName: parsed.name })
      if (!await this.#isUnder(id, subject, parsed.normalized, parsed.schemaType)) {
        throw new VigilError('VGL_SCHEMA_SERDE_MISMATCH', `Record uses schema ${id}, which is not registered under subject ${subject} that topic ${topic} is bound to`, { schemaId: id, subject })
      }
      this.#serde.decodeCached(value)
      return record
    }
    let json: unknown
    try {
      json = JSON.parse(value.toString('utf8'))
    } catch {
      throw new VigilError('VGL_SCHEMA_SERDE_MISMATCH', `Record value is neither in the Confluent wire format nor JSON text; topic ${topic} takes records of its subject's schema`, {})
    }
    if (binding.subject === undefined && strategy !== 'TopicNameStrategy') {
      throw new VigilError('VGL_SCHEMA_SERDE_MISMATCH', `Topic ${topic} uses ${strategy}: send records already encoded in the Confluent wire format, or bind the topic to one subject`, {
        hint: 'Encode with the record\'s own subject first (vigil produce --schema <subject>), or set schemaRegistry.topicSubjects[].subject.'
      })
    }
    const subject = binding.subject ?? subjectName(strategy, { topic })
    const encoder = await this.#serde.encoderFor(subject)
    const expectedType = format === 'avro' ? 'AVRO' : 'JSON'
    if (encoder.schemaType !== expectedType) {
      throw new VigilError('VGL_SCHEMA_SERDE_MISMATCH', `Subject ${subject} holds a ${encoder.schemaType} schema, but topic ${topic} takes ${expectedType}`, { subject })
    }
    return { ...record, value: encoder.encode(json) }
  }

  async #isUnder (id: number, subject: string, schema: string, schemaType: 'AVRO' | 'JSON'): Promise<boolean> {
    const key = `${id}\0${subject}`
    const known = this.#membership.get(key)
    if (known !== undefined) return known
    let found: boolean
    try {
      const match = await this.#registry.lookup(subject, { schema, schemaType })
      found = match.id === id
    } catch (error) {
      if (isVigilError(error, 'VGL_SCHEMA_SUBJECT_NOT_FOUND') || isVigilError(error, 'VGL_SCHEMA_NOT_FOUND')) found = false
      else throw error
    }
    if (found) this.#membership.set(key, true)
    return found
  }
}

function refuse (error: unknown, topic: string, index: number): VigilError {
  if (isVigilError(error)) {
    return new VigilError(error.code, `Record ${index} refused for topic ${topic}: ${error.message}`, { ...error.context, topic, index, cause: error.cause ?? error, hint: error.hint })
  }
  return new VigilError('VGL_SCHEMA_SERDE_MISMATCH', `Record ${index} refused for topic ${topic}: ${error instanceof Error ? error.message : String(error)}`, { topic, index, cause: error })
}

export function createProduceValidator (options: ProduceValidatorOptions): ProduceValidator {
  return new ProduceValidator(options)
}
