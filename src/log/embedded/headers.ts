/**
 * Record headers are stored as one BLOB (NULL when there are none):
 * `u32 count`, then per header `u32 nameBytes, name (UTF-8), u32 valueBytes, value`, all
 * big-endian. Order and repeated names are kept; values round-trip byte for byte.
 */
import type { Header } from '../types.ts'

export function encodeHeaders (headers: readonly Header[] | undefined): Buffer | null {
  if (headers === undefined || headers.length === 0) return null
  let size = 4
  for (const [name, value] of headers) size += 8 + Buffer.byteLength(name) + value.byteLength
  const out = Buffer.allocUnsafe(size)
  out.writeUInt32BE(headers.length, 0)
  let at = 4
  for (const [name, value] of headers) {
    const nameBytes = out.write(name, at + 4, 'utf8')
    out.writeUInt32BE(nameBytes, at)
    at += 4 + nameBytes
    out.writeUInt32BE(value.byteLength, at)
    out.set(value, at + 4)
    at += 4 + value.byteLength
  }
  return out
}

/** Decodes a stored headers blob; values are views into `blob` (no copy). */
export function decodeHeaders (blob: Uint8Array | null): Header[] {
  if (blob === null) return []
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)
  const count = buf.readUInt32BE(0)
  const headers: Header[] = new Array(count)
  let at = 4
  for (let i = 0; i < count; i++) {
    const nameBytes = buf.readUInt32BE(at)
    const name = buf.toString('utf8', at + 4, at + 4 + nameBytes)
    at += 4 + nameBytes
    const valueBytes = buf.readUInt32BE(at)
    headers[i] = [name, buf.subarray(at + 4, at + 4 + valueBytes)]
    at += 4 + valueBytes
  }
  return headers
}
