/**
 * The Parquet layout of S3 objects, as CAIPE writes them: snappy, one STRING column per CAIPE
 * index column plus `record_json` (the stored line: the whole record with its `_chain` link),
 * and Vigil's manifest as footer key-value metadata (`vigil.audit.manifest`). Kept apart from
 * the S3 client so that the encoder threads load only hyparquet-writer.
 */
import { parquetWriteBuffer } from 'hyparquet-writer'
import type { FileManifest } from './integrity.ts'
import { indexColumns } from './record.ts'

export const manifestKey = 'vigil.audit.manifest'

/** The value of an index column as CAIPE writes it: the string, other values as JSON, else null. */
export function parquetColumnValue (record: Record<string, unknown>, column: string): string | null {
  const value = record[column]
  if (value === undefined || value === null) return null
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** `columns[i]` holds indexColumns[i]'s value for every row; `lines` the rows' record_json. */
export function encodeParquet (columns: ReadonlyArray<ReadonlyArray<string | null>>, lines: readonly string[], manifest: FileManifest): Uint8Array {
  const columnData = [
    ...indexColumns.map((name, i) => ({ name, type: 'STRING' as const, data: [...(columns[i] ?? [])] })),
    { name: 'record_json', type: 'STRING' as const, data: [...lines] }
  ]
  return new Uint8Array(parquetWriteBuffer({
    columnData,
    codec: 'SNAPPY',
    rowGroupSize: 100_000,
    // Pages of 64 KiB with an offset index (hyparquet-writer writes one when a chunk has several
    // pages): a query that returns a few rows of an object decompresses only their pages.
    pageSize: 64 * 1024,
    kvMetadata: [{ key: manifestKey, value: JSON.stringify(manifest) }],
    createdBy: 'vigil audit archiver'
  }))
}
