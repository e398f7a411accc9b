/**
 * Avro schemas: parsing (avsc, strict about names), a normalised text used for identity (so the
 * same schema registered twice gets the same id, whatever its whitespace or key order), and the
 * logical types Vigil's serde understands: timestamp-millis, date, uuid and decimal.
 *
 * Value mapping (what encode accepts and decode returns):
 * - timestamp-millis: decode → Date; encode ← Date, epoch milliseconds, or an ISO-8601 string.
 * - date: decode → 'YYYY-MM-DD'; encode ← 'YYYY-MM-DD', Date, or days since the epoch.
 * - uuid: a string in 8-4-4-4-12 hex form (anything else is a schema/record mismatch).
 * - decimal (bytes or fixed): decode → exact decimal string ('12.50'); encode ← string, number or bigint
 *   with at most `scale` fraction digits and `precision` digits in all.
 * A logical type on the wrong underlying type is ignored, as the Avro specification says.
 */
import avro from 'avsc'
import type { Schema, Type } from 'avsc'
import { VigilError } from '../errors.ts'

const { LogicalType } = avro.types

const MS_PER_DAY = 86_400_000
const uuidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/
const datePattern = /^(-?\d{4,})-(\d{2})-(\d{2})$/

function underlyingName (type: Type): string {
  return (type as unknown as { typeName: string }).typeName
}

class TimestampMillisType extends LogicalType {
  constructor (schema: Schema, opts?: unknown) {
    super(schema, opts)
    if (underlyingName(this.underlyingType) !== 'long') throw new Error('timestamp-millis needs a long')
  }

  protected override _fromValue (value: number): Date { return new Date(value) }

  protected override _toValue (value: unknown): number | undefined {
    if (value instanceof Date) {
      const t = value.getTime()
      return Number.isNaN(t) ? undefined : t
    }
    if (typeof value === 'number') return value
    if (typeof value === 'string') {
      const t = Date.parse(value)
      return Number.isNaN(t) ? undefined : t
    }
    return undefined
  }

  protected override _resolve (type: Type): ((value: number) => Date) | undefined {
    const name = underlyingName(type)
    if (name === 'long' || name === 'int' || name === 'logical:timestamp-millis') return this._fromValue
    return undefined
  }
}

class DateType extends LogicalType {
  constructor (schema: Schema, opts?: unknown) {
    super(schema, opts)
    if (underlyingName(this.underlyingType) !== 'int') throw new Error('date needs an int')
  }

  protected override _fromValue (days: number): string {
    return new Date(days * MS_PER_DAY).toISOString().slice(0, 10)
  }

  protected override _toValue (value: unknown): number | undefined {
    if (typeof value === 'number') return value
    if (value instanceof Date) return Math.floor(value.getTime() / MS_PER_DAY)
    if (typeof value === 'string') {
      const m = datePattern.exec(value)
      if (m === null) return undefined
      const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
      const days = t / MS_PER_DAY
      return Number.isInteger(days) && new Date(t).toISOString().slice(5, 10) === `${m[2]}-${m[3]}` ? days : undefined
    }
    return undefined
  }

  protected override _resolve (type: Type): ((value: number) => string) | undefined {
    const name = underlyingName(type)
    if (name === 'int' || name === 'logical:date') return this._fromValue
    return undefined
  }
}

class UuidType extends LogicalType {
  constructor (schema: Schema, opts?: unknown) {
    super(schema, opts)
    if (underlyingName(this.underlyingType) !== 'string') throw new Error('uuid needs a string')
  }

  protected override _fromValue (value: string): string { return value }

  protected override _toValue (value: unknown): string | undefined {
    return typeof value === 'string' && uuidPattern.test(value) ? value : undefined
  }

  protected override _resolve (type: Type): ((value: string) => string) | undefined {
    const name = underlyingName(type)
    if (name === 'string' || name === 'logical:uuid') return this._fromValue
    return undefined
  }
}

class DecimalType extends LogicalType {
  readonly precision: number
  readonly scale: number
  readonly fixedSize: number | undefined

  constructor (schema: Schema, opts?: unknown) {
    super(schema, opts)
    const s = schema as { precision?: unknown, scale?: unknown, size?: number }
    const name = underlyingName(this.underlyingType)
    if (name !== 'bytes' && name !== 'fixed') throw new Error('decimal needs bytes or fixed')
    if (typeof s.precision !== 'number' || !Number.isInteger(s.precision) || s.precision < 1) throw new Error('decimal needs a positive precision')
    const scale = s.scale ?? 0
    if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 0 || scale > s.precision) throw new Error('decimal scale must be between 0 and precision')
    this.precision = s.precision
    this.scale = scale
    this.fixedSize = name === 'fixed' ? (this.underlyingType as unknown as { size: number }).size : undefined
  }

  protected override _fromValue (buf: Buffer): string {
    let unscaled = 0n
    for (const byte of buf) unscaled = (unscaled << 8n) | BigInt(byte)
    if (buf.length > 0 && ((buf[0] as number) & 0x80) !== 0) unscaled -= 1n << BigInt(buf.length * 8)
    const negative = unscaled < 0n
    let digits = (negative ? -unscaled : unscaled).toString()
    if (this.scale > 0) {
      digits = digits.padStart(this.scale + 1, '0')
      digits = `${digits.slice(0, -this.scale)}.${digits.slice(-this.scale)}`
    }
    return negative ? `-${digits}` : digits
  }

  protected override _toValue (value: unknown): Buffer | undefined {
    let text: string
    if (typeof value === 'string') text = value.trim()
    else if (typeof value === 'number' && Number.isFinite(value)) text = String(value)
    else if (typeof value === 'bigint') text = value.toString()
    else if (Buffer.isBuffer(value)) return value
    else return undefined
    const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text)
    if (m === null || (m[2] === '' && (m[3] ?? '') === '')) return undefined
    const fraction = (m[3] ?? '').replace(/0+$/, '')
    if (fraction.length > this.scale) return undefined
    const whole = (m[2] ?? '').replace(/^0+/, '')
    const unscaledDigits = (whole + fraction.padEnd(this.scale, '0')).replace(/^0+/, '')
    if (unscaledDigits.length > this.precision) return undefined
    let unscaled = BigInt(unscaledDigits === '' ? '0' : unscaledDigits)
    if (m[1] === '-') unscaled = -unscaled
    return toTwosComplement(unscaled, this.fixedSize)
  }

  protected override _resolve (type: Type): ((value: Buffer) => string) | undefined {
    const name = underlyingName(type)
    if (name === 'bytes' || name === 'fixed' || name === 'logical:decimal') return (value: Buffer) => this._fromValue(value)
    return undefined
  }
}

function toTwosComplement (value: bigint, size: number | undefined): Buffer | undefined {
  const bytes: number[] = []
  let v = value
  // Emit bytes until the remaining value is all sign bits and the sign bit of the last byte matches.
  for (;;) {
    const byte = Number(v & 0xffn)
    bytes.unshift(byte)
    v >>= 8n
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break
  }
  if (size === undefined) return Buffer.from(bytes)
  if (bytes.length > size) return undefined
  const pad = value < 0n ? 0xff : 0
  return Buffer.from([...new Array<number>(size - bytes.length).fill(pad), ...bytes])
}

export const vigilLogicalTypes = {
  'timestamp-millis': TimestampMillisType,
  date: DateType,
  uuid: UuidType,
  decimal: DecimalType
}

/**
 * avsc options used everywhere in Vigil, so that every part agrees on value shapes. A fresh
 * object per call: avsc stores the named types it meets in `registry`.
 */
export function avroTypeOptions (): Parameters<typeof avro.Type.forSchema>[1] {
  return {
    logicalTypes: vigilLogicalTypes,
    wrapUnions: 'auto',
    noAnonymousTypes: true,
    registry: {}
  } as unknown as Parameters<typeof avro.Type.forSchema>[1]
}

export interface ParsedAvro {
  type: Type
  /** The schema as parsed JSON. */
  json: unknown
  /** Normalised text: compact, keys in canonical order; equal schemas give equal text. */
  normalized: string
  /** Full name of the top-level named type, when it has one. */
  name: string | undefined
}

/**
 * A type for decoding only: the same values as `parsed.type` gives, minus the logical types whose
 * decoding is the identity (uuid), which saves a call per field on the hot path.
 */
export function decodingType (json: unknown): Type {
  const { uuid: _identity, ...logicalTypes } = vigilLogicalTypes
  const options = { ...avroTypeOptions(), logicalTypes } as unknown as Parameters<typeof avro.Type.forSchema>[1]
  return avro.Type.forSchema(json as Schema, options)
}

/** Parses Avro schema text; throws VGL_SCHEMA_INVALID naming the problem. */
export function parseAvroSchema (text: string): ParsedAvro {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new VigilError('VGL_SCHEMA_INVALID', `Invalid schema: the Avro schema is not valid JSON (${(cause as Error).message})`, { cause })
  }
  return parseAvroJson(json)
}

export function parseAvroJson (json: unknown): ParsedAvro {
  let type: Type
  try {
    checkStructure(json, '')
    type = avro.Type.forSchema(json as Schema, avroTypeOptions())
  } catch (cause) {
    if (cause instanceof VigilError) throw cause
    throw new VigilError('VGL_SCHEMA_INVALID', `Invalid schema: ${(cause as Error).message}`, { cause })
  }
  const name = (type as unknown as { name?: string }).name
  return { type, json, normalized: JSON.stringify(normalizeAvro(json)), name: typeof name === 'string' ? name : undefined }
}

/** Checks what avsc lets through but Avro (Java) refuses: unknown primitive spellings, bad defaults of unions. */
function checkStructure (node: unknown, path: string): void {
  if (Array.isArray(node)) {
    if (node.length === 0) throw new VigilError('VGL_SCHEMA_INVALID', `Invalid schema: empty union at ${path || '/'}`)
    node.forEach((branch, i) => { checkStructure(branch, `${path}/${i}`) })
    return
  }
  if (typeof node !== 'object' || node === null) return
  const obj = node as Record<string, unknown>
  if (obj.type === 'record' || obj.type === 'error') {
    if (!Array.isArray(obj.fields)) throw new VigilError('VGL_SCHEMA_INVALID', `Invalid schema: record ${String(obj.name)} has no "fields" array`)
    for (const field of obj.fields as unknown[]) {
      if (typeof field !== 'object' || field === null) throw new VigilError('VGL_SCHEMA_INVALID', `Invalid schema: a field of record ${String(obj.name)} is not an object`)
      const f = field as Record<string, unknown>
      if (!('type' in f)) throw new VigilError('VGL_SCHEMA_INVALID', `Invalid schema: field ${String(f.name)} of record ${String(obj.name)} has no type`)
      checkStructure(f.type, `${path}/${String(f.name)}`)
    }
  } else if (obj.type === 'array') {
    checkStructure(obj.items, `${path}/items`)
  } else if (obj.type === 'map') {
    checkStructure(obj.values, `${path}/values`)
  } else if (typeof obj.type === 'object') {
    checkStructure(obj.type, path)
  }
}

const keyOrder = ['type', 'name', 'namespace', 'doc', 'aliases', 'fields', 'symbols', 'items', 'values', 'size', 'default', 'order', 'logicalType', 'precision', 'scale']

/** Compact JSON with keys in a fixed order and `{"type":"int"}` written as `"int"`. */
export function normalizeAvro (node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normalizeAvro)
  if (typeof node !== 'object' || node === null) return node
  const obj = node as Record<string, unknown>
  const keys = Object.keys(obj)
  if (keys.length === 1 && keys[0] === 'type' && typeof obj.type === 'string') return obj.type
  const ordered: Record<string, unknown> = {}
  const sorted = [...keyOrder.filter(k => k in obj), ...keys.filter(k => !keyOrder.includes(k)).sort()]
  for (const key of sorted) {
    const value = obj[key]
    if (key === 'fields' && Array.isArray(value)) {
      ordered.fields = value.map(field => {
        if (typeof field !== 'object' || field === null) return field
        const f = field as Record<string, unknown>
        const out: Record<string, unknown> = {}
        for (const k of ['name', 'type', 'doc', 'default', 'order', 'aliases'].filter(k => k in f)) out[k] = k === 'type' ? normalizeAvro(f[k]) : f[k]
        for (const k of Object.keys(f).filter(k => !['name', 'type', 'doc', 'default', 'order', 'aliases'].includes(k)).sort()) out[k] = f[k]
        return out
      })
    } else if (key === 'type' || key === 'items' || key === 'values') {
      ordered[key] = normalizeAvro(value)
    } else {
      ordered[key] = value
    }
  }
  return ordered
}

/** Avro's Parsing Canonical Form (names, types, symbols, sizes only), for fingerprints. */
export function canonicalForm (type: Type): string {
  return type.toString()
}

/** Converts a decoded Avro value to plain JSON: Dates to ISO strings, bytes to base64. */
export function toJsonValue (value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Buffer.isBuffer(value)) return value.toString('base64')
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value)) return value.map(toJsonValue)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v)
  return out
}

/**
 * Converts plain JSON to the values avsc expects, following the schema: base64 strings become
 * bytes/fixed Buffers. Everything else is already in avsc's shape (logical types accept strings).
 */
export function fromJsonValue (type: Type, value: unknown): unknown {
  const t = type as unknown as {
    typeName: string
    fields?: Array<{ name: string, type: Type }>
    itemsType?: Type
    valuesType?: Type
    types?: Type[]
    underlyingType?: Type
  }
  switch (t.typeName) {
    case 'bytes':
    case 'fixed':
      return typeof value === 'string' ? Buffer.from(value, 'base64') : value
    case 'record':
    case 'error': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
      const obj = value as Record<string, unknown>
      const out: Record<string, unknown> = { ...obj }
      for (const field of t.fields ?? []) {
        if (field.name in obj) out[field.name] = fromJsonValue(field.type, obj[field.name])
      }
      return out
    }
    case 'array':
      return Array.isArray(value) ? value.map(v => fromJsonValue(t.itemsType as Type, v)) : value
    case 'map': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) out[k] = fromJsonValue(t.valuesType as Type, v)
      return out
    }
    case 'union:unwrapped': {
      for (const branch of t.types ?? []) {
        if (branch.isValid(value)) return value
      }
      for (const branch of t.types ?? []) {
        const converted = fromJsonValue(branch, value)
        if (converted !== value && branch.isValid(converted)) return converted
      }
      return value
    }
    case 'union:wrapped': {
      // Avro JSON encoding: {"branch name": value}.
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
      const entries = Object.entries(value)
      if (entries.length !== 1) return value
      const [branchName, inner] = entries[0] as [string, unknown]
      const branch = (t.types ?? []).find(b => b.branchName === branchName)
      return branch === undefined ? value : { [branchName]: fromJsonValue(branch, inner) }
    }
    default:
      if (t.typeName === 'logical:decimal' && typeof value === 'string') return value
      if (t.typeName.startsWith('logical:') && t.underlyingType !== undefined) {
        return value
      }
      return value
  }
}

/**
 * Describes why `value` does not match `type`, naming each offending field path
 * (e.g. `payload.status: "DONE" is not a valid enum`). Empty when it matches.
 */
export function describeMismatch (type: Type, value: unknown, max = 5): string[] {
  const problems: string[] = []
  type.isValid(value, {
    errorHook: (path: string[], v: unknown, t: Type) => {
      if (problems.length >= max) return
      const where = path.length === 0 ? '(root)' : path.join('.')
      const expected = describeType(t)
      problems.push(v === undefined ? `${where}: missing (expected ${expected})` : `${where}: ${shortJson(v)} is not ${expected}`)
    }
  })
  return problems
}

function describeType (type: Type): string {
  const t = type as unknown as { typeName: string, name?: string, symbols?: string[], types?: Type[] }
  if (t.typeName === 'enum') return `one of the symbols ${(t.symbols ?? []).join(', ')} of enum ${t.name ?? ''}`.trimEnd()
  if (t.typeName.startsWith('union')) return `any of ${(t.types ?? []).map(b => b.branchName ?? describeType(b)).join(' | ')}`
  if (t.typeName === 'record') return `a record ${t.name ?? ''}`.trimEnd()
  if (t.typeName.startsWith('logical:')) return `a valid ${t.typeName.slice('logical:'.length)}`
  return `a valid ${t.typeName}`
}

function shortJson (value: unknown): string {
  let text: string
  try { text = JSON.stringify(toJsonValue(value)) ?? String(value) } catch { text = String(value) }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}
