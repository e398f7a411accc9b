/**
 * The Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian integer, then the
 * body (Avro binary, or UTF-8 JSON for JSON Schema subjects). Protobuf's message-index array is
 * not supported (Vigil does not serve Protobuf schemas).
 */
import { VigilError } from '../errors.ts'

export const MAGIC_BYTE = 0
export const HEADER_SIZE = 5

/** True when `value` can be a Confluent-framed record: magic byte 0 and room for an id. */
export function looksLikeConfluent (value: Buffer | Uint8Array | null | undefined): boolean {
  return value !== null && value !== undefined && value.length >= HEADER_SIZE && value[0] === MAGIC_BYTE
}

/** The schema id of a framed record; throws VGL_SCHEMA_SERDE_BAD_MAGIC or _TRUNCATED. */
export function readSchemaId (value: Buffer): number {
  if (value.length === 0) throw new VigilError('VGL_SCHEMA_SERDE_TRUNCATED', 'Record is empty: expected the magic byte, a 4-byte schema id and a body', { length: 0 })
  if (value[0] !== MAGIC_BYTE) {
    throw new VigilError('VGL_SCHEMA_SERDE_BAD_MAGIC', `Unknown magic byte ${value[0] as number} (expected 0): the record is not in the Confluent wire format`, { magicByte: value[0] })
  }
  if (value.length < HEADER_SIZE) {
    throw new VigilError('VGL_SCHEMA_SERDE_TRUNCATED', `Record of ${value.length} bytes is shorter than the 5-byte wire-format header`, { length: value.length })
  }
  return value.readUInt32BE(1)
}

/** Frames a body: one allocation, header then body. */
export function frame (schemaId: number, body: Buffer | Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + body.length)
  out[0] = MAGIC_BYTE
  out.writeUInt32BE(schemaId, 1)
  out.set(body, HEADER_SIZE)
  return out
}
