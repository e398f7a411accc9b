/**
 * Schema compatibility, decided by Avro's schema resolution rules (the same rules Avro Java's
 * SchemaCompatibility and Confluent apply), walked by hand so that every problem names the field:
 *
 * - records match by unqualified name or a reader alias; each reader field is found in the writer
 *   by name or by one of its aliases, or must have a default; extra writer fields are skipped;
 * - enums match by name; a writer symbol missing from the reader needs the reader's enum default;
 * - fixed types match by name and size; arrays and maps by their items and values;
 * - a writer union needs every branch readable; a reader union needs a branch for the writer type;
 * - promotions: int → long, float, double; long → float, double; float → double; string ↔ bytes;
 * - logical types are read through their underlying types.
 *
 * Levels: BACKWARD = the new schema reads data written with the old one, FORWARD = the old reads the
 * new, FULL = both; *_TRANSITIVE check every earlier version instead of only the latest.
 */
import type { Type } from 'avsc'
import { checkJsonReaderWriter } from './json-schema.ts'
import type { ParsedSchema } from './parse.ts'
import type { CompatibilityLevel } from './types.ts'

export const incompatibilityTypes = [
  'NAME_MISMATCH', 'FIXED_SIZE_MISMATCH', 'MISSING_ENUM_SYMBOLS', 'READER_FIELD_MISSING_DEFAULT_VALUE',
  'TYPE_MISMATCH', 'MISSING_UNION_BRANCH', 'SCHEMA_TYPE_MISMATCH', 'JSON_SCHEMA_INCOMPATIBLE'
] as const
export type IncompatibilityType = typeof incompatibilityTypes[number]

export interface Incompatibility {
  type: IncompatibilityType
  /** Dotted field path from the top record, e.g. `address.zip`; '' for the top level. */
  field: string
  /** JSON-pointer-like location in the reader schema, e.g. `/fields/address/type/fields/zip`. */
  location: string
  message: string
}

interface Labels { reader: string, writer: string }

interface AvscType {
  typeName: string
  name?: string
  aliases?: string[]
  fields?: AvscField[]
  symbols?: string[]
  default?: string
  size?: number
  itemsType?: Type
  valuesType?: Type
  types?: Type[]
  underlyingType?: Type
  branchName?: string
}

interface AvscField {
  name: string
  type: Type
  aliases?: string[]
  defaultValue (): unknown
}

const promotions: Record<string, readonly string[]> = {
  int: ['int', 'long', 'float', 'double'],
  long: ['long', 'float', 'double'],
  float: ['float', 'double'],
  double: ['double'],
  string: ['string', 'bytes'],
  bytes: ['bytes', 'string'],
  null: ['null'],
  boolean: ['boolean']
}

function unwrapLogical (type: Type): AvscType {
  let t = type as unknown as AvscType
  while (t.typeName.startsWith('logical:') && t.underlyingType !== undefined) t = t.underlyingType as unknown as AvscType
  return t
}

function kindOf (t: AvscType): string {
  if (t.typeName.startsWith('union')) return 'union'
  if (t.typeName === 'error') return 'record'
  return t.typeName
}

function shortName (fullName: string | undefined): string {
  if (fullName === undefined) return ''
  const i = fullName.lastIndexOf('.')
  return i < 0 ? fullName : fullName.slice(i + 1)
}

function describe (t: AvscType): string {
  const kind = kindOf(t)
  if (kind === 'record' || kind === 'enum' || kind === 'fixed') return `${kind} ${t.name ?? ''}`.trimEnd()
  if (kind === 'array') return `array<${describe(unwrapLogical(t.itemsType as Type))}>`
  if (kind === 'map') return `map<${describe(unwrapLogical(t.valuesType as Type))}>`
  if (kind === 'union') return `union [${(t.types ?? []).map(b => describe(unwrapLogical(b))).join(', ')}]`
  return kind
}

function namesMatch (reader: AvscType, writer: AvscType): boolean {
  if (shortName(reader.name) === shortName(writer.name)) return true
  const writerName = writer.name ?? ''
  return (reader.aliases ?? []).some(alias => alias === writerName || shortName(alias) === shortName(writerName))
}

class Checker {
  readonly problems: Incompatibility[] = []
  readonly #labels: Labels
  readonly #inProgress: Map<AvscType, Set<AvscType>>

  constructor (labels: Labels, inProgress = new Map<AvscType, Set<AvscType>>()) {
    this.#labels = labels
    this.#inProgress = inProgress
  }

  check (readerType: Type, writerType: Type, field: string, location: string): void {
    const reader = unwrapLogical(readerType)
    const writer = unwrapLogical(writerType)
    // Recursive types: a pair already being compared is assumed compatible (co-inductive).
    let pending = this.#inProgress.get(reader)
    if (pending?.has(writer) === true) return
    if (pending === undefined) {
      pending = new Set()
      this.#inProgress.set(reader, pending)
    }
    pending.add(writer)
    try {
      this.#checkPair(reader, writer, field, location)
    } finally {
      pending.delete(writer)
    }
  }

  #add (type: IncompatibilityType, field: string, location: string, message: string): void {
    this.problems.push({ type, field, location: location === '' ? '/' : location, message })
  }

  #where (field: string): string {
    return field === '' ? 'at the top level' : `of field '${field}'`
  }

  #checkPair (reader: AvscType, writer: AvscType, field: string, location: string): void {
    const { reader: r, writer: w } = this.#labels
    const rk = kindOf(reader)
    const wk = kindOf(writer)

    if (wk === 'union') {
      const branches = writer.types ?? []
      for (let i = 0; i < branches.length; i++) {
        const branch = unwrapLogical(branches[i] as Type)
        if (rk === 'union') {
          if (!this.#readerUnionAccepts(reader, branch, field, location)) {
            this.#add('MISSING_UNION_BRANCH', field, location,
              `The ${w} schema's union ${this.#where(field)} has a branch ${describe(branch)} that the ${r} schema's union [${(reader.types ?? []).map(b => describe(unwrapLogical(b))).join(', ')}] cannot read`)
          }
        } else {
          const before = this.problems.length
          this.check(reader as unknown as Type, branches[i] as Type, field, location)
          if (this.problems.length > before) {
            this.problems.splice(before)
            this.#add('MISSING_UNION_BRANCH', field, location,
              `The ${w} schema ${this.#where(field)} is a union whose branch ${describe(branch)} the ${r} schema's ${describe(reader)} cannot read`)
          }
        }
      }
      return
    }

    if (rk === 'union') {
      if (!this.#readerUnionAccepts(reader, writer, field, location)) {
        this.#add('MISSING_UNION_BRANCH', field, location,
          `The ${r} schema ${this.#where(field)} is a union [${(reader.types ?? []).map(b => describe(unwrapLogical(b))).join(', ')}] with no branch for the ${w} schema's ${describe(writer)}`)
      }
      return
    }

    if (rk !== wk) {
      const allowed = promotions[wk]
      if (allowed?.includes(rk) !== true) {
        this.#add('TYPE_MISMATCH', field, location,
          `The type ${this.#where(field)} is ${describe(writer)} in the ${w} schema and ${describe(reader)} in the ${r} schema, and ${wk} cannot be promoted to ${rk}`)
      }
      return
    }

    switch (rk) {
      case 'record':
        this.#checkRecord(reader, writer, field, location)
        return
      case 'enum':
        this.#checkEnum(reader, writer, field, location)
        return
      case 'fixed':
        if (!namesMatch(reader, writer)) {
          this.#add('NAME_MISMATCH', field, location, `The fixed type ${this.#where(field)} is named ${writer.name ?? ''} in the ${w} schema and ${reader.name ?? ''} in the ${r} schema (add an alias to rename it)`)
        }
        if (reader.size !== writer.size) {
          this.#add('FIXED_SIZE_MISMATCH', field, location, `The fixed type ${reader.name ?? ''} ${this.#where(field)} has size ${String(writer.size)} in the ${w} schema and ${String(reader.size)} in the ${r} schema`)
        }
        return
      case 'array':
        this.check(reader.itemsType as Type, writer.itemsType as Type, field === '' ? '[]' : `${field}[]`, `${location}/items`)
        return
      case 'map':
        this.check(reader.valuesType as Type, writer.valuesType as Type, field === '' ? '{}' : `${field}{}`, `${location}/values`)
    }
  }

  #readerUnionAccepts (reader: AvscType, writerBranch: AvscType, field: string, location: string): boolean {
    for (const candidate of reader.types ?? []) {
      const probe = new Checker(this.#labels, this.#inProgress)
      probe.check(candidate, writerBranch as unknown as Type, field, location)
      if (probe.problems.length === 0) return true
    }
    return false
  }

  #checkRecord (reader: AvscType, writer: AvscType, field: string, location: string): void {
    const { reader: r, writer: w } = this.#labels
    if (!namesMatch(reader, writer)) {
      this.#add('NAME_MISMATCH', field, location,
        `The record ${this.#where(field)} is named ${writer.name ?? ''} in the ${w} schema and ${reader.name ?? ''} in the ${r} schema (add "aliases": ["${writer.name ?? ''}"] to rename it)`)
      return
    }
    const writerFields = new Map((writer.fields ?? []).map(f => [f.name, f]))
    for (const readerField of reader.fields ?? []) {
      const path = field === '' ? readerField.name : `${field}.${readerField.name}`
      const fieldLocation = `${location}/fields/${readerField.name}`
      let writerField = writerFields.get(readerField.name)
      if (writerField === undefined) {
        for (const alias of readerField.aliases ?? []) {
          writerField = writerFields.get(alias)
          if (writerField !== undefined) break
        }
      }
      if (writerField !== undefined) {
        this.check(readerField.type, writerField.type, path, `${fieldLocation}/type`)
      } else if (readerField.defaultValue() === undefined) {
        this.#add('READER_FIELD_MISSING_DEFAULT_VALUE', path, fieldLocation,
          `The field '${path}' of record ${reader.name ?? ''} is in the ${r} schema without a default value and is missing from the ${w} schema (give it a default, or add an alias naming the ${w} field)`)
      }
    }
  }

  #checkEnum (reader: AvscType, writer: AvscType, field: string, location: string): void {
    const { reader: r, writer: w } = this.#labels
    if (!namesMatch(reader, writer)) {
      this.#add('NAME_MISMATCH', field, location,
        `The enum ${this.#where(field)} is named ${writer.name ?? ''} in the ${w} schema and ${reader.name ?? ''} in the ${r} schema (add an alias to rename it)`)
      return
    }
    if (reader.default !== undefined) return
    const readerSymbols = new Set(reader.symbols ?? [])
    const missing = (writer.symbols ?? []).filter(s => !readerSymbols.has(s))
    if (missing.length > 0) {
      this.#add('MISSING_ENUM_SYMBOLS', field, location,
        `The enum ${reader.name ?? ''} ${this.#where(field)} lacks the symbols ${missing.join(', ')} in the ${r} schema, which the ${w} schema can write, and has no default symbol`)
    }
  }
}

/** Problems reading data written with `writer` using `reader` (empty: compatible). */
export function checkReaderWriter (reader: ParsedSchema, writer: ParsedSchema, labels: Labels = { reader: 'reader', writer: 'writer' }): Incompatibility[] {
  if (reader.schemaType !== writer.schemaType) {
    return [{ type: 'SCHEMA_TYPE_MISMATCH', field: '', location: '/', message: `The ${labels.writer} schema is ${writer.schemaType} and the ${labels.reader} schema is ${reader.schemaType}` }]
  }
  if (reader.schemaType === 'JSON' && writer.schemaType === 'JSON') {
    return checkJsonReaderWriter(reader.json.json, writer.json.json).map(message => ({
      type: 'JSON_SCHEMA_INCOMPATIBLE' as const,
      field: fieldOfJsonMessage(message),
      location: message.slice(0, message.indexOf(':')),
      message: `${message} (${labels.reader} schema reading ${labels.writer} data)`
    }))
  }
  if (reader.schemaType !== 'AVRO' || writer.schemaType !== 'AVRO') return []
  const checker = new Checker(labels)
  checker.check(reader.avro.type, writer.avro.type, '', '')
  return checker.problems
}

function fieldOfJsonMessage (message: string): string {
  const location = message.slice(0, message.indexOf(':'))
  return location.split('/properties/').slice(1).join('.')
}

export interface PreviousVersion {
  version: number
  schema: ParsedSchema
}

export interface LevelCheckResult {
  compatible: boolean
  /** Confluent-style lines: each names the rule, the field and the old version. */
  messages: string[]
  problems: Array<Incompatibility & { version: number, direction: 'backward' | 'forward' }>
}

/**
 * Decides whether `candidate` may follow `previous` (oldest first) under `level`. Non-transitive
 * levels compare with the last element only; transitive ones with all of them.
 */
export function checkLevel (level: CompatibilityLevel, candidate: ParsedSchema, previous: readonly PreviousVersion[]): LevelCheckResult {
  if (level === 'NONE' || previous.length === 0) return { compatible: true, messages: [], problems: [] }
  const transitive = level.endsWith('_TRANSITIVE')
  const base = level.replace('_TRANSITIVE', '')
  const against = transitive ? previous : previous.slice(-1)
  const problems: LevelCheckResult['problems'] = []
  for (const old of [...against].reverse()) {
    if (base === 'BACKWARD' || base === 'FULL') {
      for (const p of checkReaderWriter(candidate, old.schema, { reader: 'new', writer: 'old' })) problems.push({ ...p, version: old.version, direction: 'backward' })
    }
    if (base === 'FORWARD' || base === 'FULL') {
      for (const p of checkReaderWriter(old.schema, candidate, { reader: 'old', writer: 'new' })) problems.push({ ...p, version: old.version, direction: 'forward' })
    }
  }
  const messages = problems.map(p =>
    `{errorType:'${p.type}', description:'${p.message}', additionalInfo:'${p.field}', location:'${p.location}', oldSchemaVersion:${p.version}, compatibility:'${level}'}`)
  return { compatible: problems.length === 0, messages, problems }
}
