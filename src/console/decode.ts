/**
 * Shows a record's bytes to a person: Confluent-framed values through the schema serde (Avro or
 * JSON Schema), else JSON, UTF-8 text or base64, so a sample of a topic reads as data.
 */
import { looksLikeConfluent, type Serde } from '../schema/index.ts'

export interface ShownValue {
  format: 'avro' | 'json-schema' | 'json' | 'text' | 'base64'
  value: unknown
  schemaId?: number
  subject?: string | undefined
  decodeError?: string
}

export async function showValue (value: Buffer, serde: (() => Promise<Serde>) | undefined): Promise<ShownValue> {
  if (serde !== undefined && looksLikeConfluent(value)) {
    try {
      const decoded = await (await serde()).decodeToJson(value)
      return { format: decoded.schemaType === 'AVRO' ? 'avro' : 'json-schema', schemaId: decoded.schemaId, subject: decoded.subject, value: decoded.value }
    } catch (error) {
      return { format: 'base64', value: value.toString('base64'), decodeError: (error as Error).message }
    }
  }
  const text = value.toString('utf8')
  // eslint-disable-next-line no-control-regex -- binary bytes other than tab, newline and carriage return
  if (Buffer.from(text, 'utf8').equals(value) && !/[\u0000-\u0008\u000e-\u001f]/.test(text)) {
    try {
      return { format: 'json', value: JSON.parse(text) }
    } catch {
      return { format: 'text', value: text }
    }
  }
  return { format: 'base64', value: value.toString('base64') }
}
