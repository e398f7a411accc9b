/**
 * JSON Schema support, the second schema type: parsing and validation with Ajv (draft-07 and
 * 2019-09 keywords Ajv knows), a normalised text for identity, and a compatibility check for the
 * changes that matter to JSON records (properties added, removed, made required, retyped;
 * closed content models). It is deliberately smaller than Confluent's JSON Schema rules.
 */
import { Ajv, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { VigilError } from '../errors.ts'

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: true })
addFormats(ajv)

export interface ParsedJsonSchema {
  json: unknown
  normalized: string
  validate: ValidateFunction
  /** `title` of the schema, used as the record name by RecordNameStrategy. */
  name: string | undefined
}

export function parseJsonSchema (text: string): ParsedJsonSchema {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new VigilError('VGL_SCHEMA_INVALID', `Invalid schema: the JSON Schema is not valid JSON (${(cause as Error).message})`, { cause })
  }
  if (typeof json !== 'boolean' && (typeof json !== 'object' || json === null || Array.isArray(json))) {
    throw new VigilError('VGL_SCHEMA_INVALID', 'Invalid schema: a JSON Schema must be an object or a boolean')
  }
  let validate: ValidateFunction
  try {
    const copy = structuredClone(json) as Record<string, unknown> | boolean
    if (typeof copy === 'object') delete copy.$id
    validate = ajv.compile(copy)
  } catch (cause) {
    throw new VigilError('VGL_SCHEMA_INVALID', `Invalid schema: ${(cause as Error).message}`, { cause })
  }
  const title = typeof json === 'object' ? (json as Record<string, unknown>).title : undefined
  return { json, normalized: stableStringify(json), validate, name: typeof title === 'string' ? title : undefined }
}

export function describeJsonMismatch (validate: ValidateFunction, value: unknown, max = 5): string[] {
  if (validate(value)) return []
  return (validate.errors ?? []).slice(0, max).map(e => {
    const where = e.instancePath === '' ? '(root)' : e.instancePath.slice(1).replaceAll('/', '.')
    return `${where}: ${e.message ?? 'is invalid'}`
  })
}

export function stableStringify (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const obj = value as Record<string, unknown>
    return `{${Object.keys(obj).sort().map(k => `${JSON.stringify(k)}:${stableStringify(obj[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

type JsonNode = Record<string, unknown> | boolean

function typesOf (node: JsonNode): Set<string> | null {
  if (typeof node === 'boolean') return null
  const t = node.type
  if (typeof t === 'string') return new Set([t])
  if (Array.isArray(t)) return new Set(t.filter((x): x is string => typeof x === 'string'))
  return null
}

/**
 * Problems that stop `reader` from accepting every record valid under `writer`.
 * Each names the property path.
 */
export function checkJsonReaderWriter (reader: unknown, writer: unknown, path = '#'): string[] {
  const r = reader as JsonNode
  const w = writer as JsonNode
  if (r === true || (typeof r === 'object' && Object.keys(r).length === 0)) return []
  if (r === false) return w === false ? [] : [`${path}: the reader schema accepts nothing`]
  if (w === true || typeof w !== 'object') return [`${path}: the writer accepts any value but the reader is restricted`]
  const problems: string[] = []
  const rTypes = typesOf(r)
  const wTypes = typesOf(w)
  if (rTypes !== null) {
    if (wTypes === null) {
      problems.push(`${path}: the reader requires type ${[...rTypes].join('|')} but the writer allows any type`)
    } else {
      for (const t of wTypes) {
        if (!rTypes.has(t) && !(t === 'integer' && rTypes.has('number'))) {
          problems.push(`${path}: type ${t} written by the writer is not accepted by the reader (${[...rTypes].join('|')})`)
        }
      }
    }
  }
  if (Array.isArray(r.enum)) {
    const allowed = new Set(r.enum.map(v => stableStringify(v)))
    if (!Array.isArray(w.enum)) {
      problems.push(`${path}: the reader restricts values to an enum the writer does not have`)
    } else {
      for (const v of w.enum) if (!allowed.has(stableStringify(v))) problems.push(`${path}: enum value ${JSON.stringify(v)} was removed`)
    }
  }
  const rProps = (r.properties ?? {}) as Record<string, unknown>
  const wProps = (w.properties ?? {}) as Record<string, unknown>
  const rRequired = new Set(Array.isArray(r.required) ? r.required as string[] : [])
  const wRequired = new Set(Array.isArray(w.required) ? w.required as string[] : [])
  for (const name of rRequired) {
    if (!wRequired.has(name)) problems.push(`${path}/properties/${name}: property '${name}' is required by the reader but optional or absent in the writer`)
  }
  for (const [name, rp] of Object.entries(rProps)) {
    const wp = wProps[name]
    if (wp === undefined) {
      if (w.additionalProperties !== false) {
        // Records from the writer may carry this name with any value.
        if (typesOf(rp as JsonNode) !== null) problems.push(`${path}/properties/${name}: property '${name}' was added with a type, but the writer's open content model allowed any value under that name`)
      }
      continue
    }
    problems.push(...checkJsonReaderWriter(rp, wp, `${path}/properties/${name}`))
  }
  if (r.additionalProperties === false) {
    for (const name of Object.keys(wProps)) {
      if (!(name in rProps)) problems.push(`${path}/properties/${name}: property '${name}' was removed from a closed content model (additionalProperties: false)`)
    }
    if (w.additionalProperties !== false) problems.push(`${path}: the reader's content model is closed but the writer's is open`)
  }
  if (typeof r.items === 'object' && r.items !== null && typeof w.items === 'object' && w.items !== null) {
    problems.push(...checkJsonReaderWriter(r.items, w.items, `${path}/items`))
  }
  return problems
}
