/**
 * One entry point to parse a schema of any supported type into what the registry, the
 * compatibility checker and the serde need: the parsed form, a normalised text and a fingerprint.
 */
import { createHash } from 'node:crypto'
import { VigilError } from '../errors.ts'
import { parseAvroSchema, type ParsedAvro } from './avro.ts'
import { parseJsonSchema, type ParsedJsonSchema } from './json-schema.ts'
import { allowedSchemaTypes, type SchemaInput, type SchemaType } from './types.ts'

export type ParsedSchema =
  | { schemaType: 'AVRO', normalized: string, fingerprint: string, name: string | undefined, avro: ParsedAvro }
  | { schemaType: 'JSON', normalized: string, fingerprint: string, name: string | undefined, json: ParsedJsonSchema }

export const defaultMaxSchemaBytes = 1024 * 1024

export function normalizeSchemaType (value: unknown): SchemaType {
  if (value === undefined || value === null || value === '') return 'AVRO'
  if (typeof value === 'string' && (allowedSchemaTypes as readonly string[]).includes(value.toUpperCase())) {
    return value.toUpperCase() as SchemaType
  }
  throw new VigilError('VGL_SCHEMA_INVALID', `Invalid schema type ${JSON.stringify(value)}; this registry supports ${allowedSchemaTypes.join(' and ')}`, {
    schemaType: value
  })
}

export function parseSchema (input: SchemaInput, maxBytes = defaultMaxSchemaBytes): ParsedSchema {
  const schemaType = normalizeSchemaType(input.schemaType)
  if (typeof input.schema !== 'string' || input.schema.trim() === '') {
    throw new VigilError('VGL_SCHEMA_INVALID', 'Invalid schema: the schema text is empty')
  }
  if (Buffer.byteLength(input.schema) > maxBytes) {
    throw new VigilError('VGL_SCHEMA_TOO_LARGE', `Schema too large: ${Buffer.byteLength(input.schema)} bytes, the limit is ${maxBytes}`, { maxBytes })
  }
  if (input.references !== undefined && input.references.length > 0) {
    throw new VigilError('VGL_SCHEMA_INVALID', 'Invalid schema: schema references are not supported by Vigil\'s registry; inline the referenced types', {
      hint: 'Inline the referenced named types in the schema, or point schemaRegistry.url at a registry that supports references.'
    })
  }
  if (schemaType === 'AVRO') {
    const avro = parseAvroSchema(input.schema)
    return { schemaType, normalized: avro.normalized, fingerprint: fingerprintOf(schemaType, avro.normalized), name: avro.name, avro }
  }
  const json = parseJsonSchema(input.schema)
  return { schemaType, normalized: json.normalized, fingerprint: fingerprintOf(schemaType, json.normalized), name: json.name, json }
}

export function fingerprintOf (schemaType: SchemaType, normalized: string): string {
  return createHash('sha256').update(schemaType).update('\0').update(normalized).digest('hex')
}
