/**
 * The column index each file's manifest carries: for every filterable column, its distinct
 * values and, row by row, which of them the row holds (a dictionary code). From it a query
 * counts a file's matches for any mix of exact filters and a user_email substring without
 * reading the file, skips files that hold no match, and parses only the matching lines of the
 * files whose records it returns. A column with more distinct values than half the rows (and
 * more than 256) is not indexed; a filter on it reads the file. user_email is the exception,
 * indexed up to 65,535 distinct values whatever the rows: nothing else can answer its substring
 * filter (Parquet's min/max statistics and bloom filters only rule out whole values), so without
 * it every query on user_email reads every file of its range, and its values are a small part of
 * a record (an email against a record of a few hundred bytes).
 */
import { exactFilters } from './record.ts'

/** Columns the index covers: the exact filters, capability as queries see it, and user_email. */
export const indexedColumns = [...exactFilters, 'capability', 'user_email'] as const

export interface IndexedColumn {
  /** Distinct values in first-seen order: code n is values[n − 1]; code 0 is "no value". */
  values: string[]
  /** One code per row, base64: a byte each when there are fewer than 256 values, else 2 bytes little-endian. */
  codes: string
}

export interface ColumnIndex {
  rows: number
  /** null: the column has too many distinct values to index. */
  columns: Record<string, IndexedColumn | null>
}

/** The filter parts the index can answer. */
export interface IndexFilter {
  exact: ReadonlyArray<readonly [column: string, value: string]>
  /** Lower-cased substring of user_email. */
  userEmail?: string | undefined
}

const maxCodes = 65_535

/** Most distinct values a column may have and still be indexed, in a file of `rows` rows. */
function distinctLimit (column: string, rows: number): number {
  return column === 'user_email' ? maxCodes : Math.min(maxCodes, Math.max(256, rows / 2))
}

/** The value a filter compares against (strings as they are, other values as JSON, missing as null). */
export function columnValue (record: Record<string, unknown>, column: string): string | null {
  const value = column === 'capability' ? (record.capability ?? record.action) : record[column]
  if (value === undefined || value === null) return null
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** The value a row holds in an indexed column (user_email only as a string: the substring filter ignores others). */
function indexValue (record: Record<string, unknown>, column: string): string | null {
  if (column === 'user_email') {
    const email = record.user_email
    return typeof email === 'string' ? email : null
  }
  return columnValue(record, column)
}

/** Builds a ColumnIndex row by row, in file order. */
export class ColumnIndexBuilder {
  readonly #dictionaries: Array<Map<string, number> | null> = indexedColumns.map(() => new Map())
  #codes: Uint16Array[]
  #rows = 0
  /** Per column, more distinct values than this and build() would drop it: it is dropped at once. */
  readonly #maxDistinct: number[]

  /** `expectedRows`, when given, is at least the rows the index will get. */
  constructor (expectedRows?: number) {
    this.#codes = indexedColumns.map(() => new Uint16Array(Math.max(16, expectedRows ?? 1024)))
    this.#maxDistinct = indexedColumns.map(column => expectedRows === undefined ? maxCodes : distinctLimit(column, expectedRows))
  }

  add (record: Record<string, unknown>): void {
    const row = this.#rows++
    if (row >= (this.#codes[0] as Uint16Array).length) this.#grow()
    for (let c = 0; c < indexedColumns.length; c++) {
      const dictionary = this.#dictionaries[c]
      if (dictionary === null || dictionary === undefined) continue
      const value = indexValue(record, indexedColumns[c] as string)
      if (value === null) continue
      let code = dictionary.get(value)
      if (code === undefined) {
        if (dictionary.size >= (this.#maxDistinct[c] as number)) {
          this.#dictionaries[c] = null
          continue
        }
        code = dictionary.size + 1
        dictionary.set(value, code)
      }
      (this.#codes[c] as Uint16Array)[row] = code
    }
  }

  #grow (): void {
    this.#codes = this.#codes.map(old => {
      const next = new Uint16Array(old.length * 2)
      next.set(old)
      return next
    })
  }

  build (): ColumnIndex {
    const rows = this.#rows
    const columns: Record<string, IndexedColumn | null> = {}
    for (let c = 0; c < indexedColumns.length; c++) {
      const dictionary = this.#dictionaries[c]
      const name = indexedColumns[c] as string
      if (dictionary === null || dictionary === undefined || dictionary.size > distinctLimit(name, rows)) {
        columns[name] = null
        continue
      }
      const codes = (this.#codes[c] as Uint16Array).subarray(0, rows)
      columns[name] = { values: [...dictionary.keys()], codes: encodeCodes(codes, dictionary.size) }
    }
    return { rows, columns }
  }
}

export function buildColumnIndex (records: Iterable<Record<string, unknown>>, expectedRows?: number): ColumnIndex {
  const builder = new ColumnIndexBuilder(expectedRows)
  for (const record of records) builder.add(record)
  return builder.build()
}

function encodeCodes (codes: Uint16Array, distinct: number): string {
  if (distinct < 256) return Buffer.from(Uint8Array.from(codes)).toString('base64')
  const bytes = Buffer.alloc(codes.length * 2)
  for (let i = 0; i < codes.length; i++) bytes.writeUInt16LE(codes[i] as number, i * 2)
  return bytes.toString('base64')
}

const decoded = new WeakMap<IndexedColumn, Uint8Array | Uint16Array>()

/** The column's codes, one per row (decoded once per manifest object). */
export function columnCodes (column: IndexedColumn, rows: number): Uint8Array | Uint16Array {
  let codes = decoded.get(column)
  if (codes === undefined) {
    const bytes = Buffer.from(column.codes, 'base64')
    if (column.values.length < 256) {
      codes = new Uint8Array(bytes.buffer, bytes.byteOffset, Math.min(rows, bytes.length))
    } else {
      codes = new Uint16Array(Math.min(rows, bytes.length >> 1))
      for (let i = 0; i < codes.length; i++) codes[i] = bytes.readUInt16LE(i * 2)
    }
    decoded.set(column, codes)
  }
  return codes
}

const lowered = new WeakMap<IndexedColumn, string[]>()

/** The column's values lower-cased, for the user_email substring (once per manifest object; V8 returns a value already in lower case as it is, so this is mostly an array of the same strings). */
function lowerCased (column: IndexedColumn): string[] {
  let values = lowered.get(column)
  if (values === undefined) {
    values = column.values.map(value => value.toLowerCase())
    lowered.set(column, values)
  }
  return values
}

/**
 * The rows (1 = passes) that match the filter's exact values and user_email substring, null when
 * no row can, or undefined when a column the filter needs is not indexed.
 */
export function matchingRows (index: ColumnIndex, filter: IndexFilter): Uint8Array | null | undefined {
  const wanted: Array<{ codes: Uint8Array | Uint16Array, accept: Uint8Array }> = []
  for (const [column, value] of filter.exact) {
    const indexed = index.columns[column]
    if (indexed === null || indexed === undefined) return undefined
    const code = indexed.values.indexOf(value) + 1
    if (code === 0) return null
    const accept = new Uint8Array(indexed.values.length + 1)
    accept[code] = 1
    wanted.push({ codes: columnCodes(indexed, index.rows), accept })
  }
  if (filter.userEmail !== undefined) {
    const indexed = index.columns.user_email
    if (indexed === null || indexed === undefined) return undefined
    const accept = new Uint8Array(indexed.values.length + 1)
    const needle = filter.userEmail
    const values = lowerCased(indexed)
    let any = false
    for (let i = 0; i < values.length; i++) {
      if ((values[i] as string).includes(needle)) {
        accept[i + 1] = 1
        any = true
      }
    }
    if (!any) return null
    wanted.push({ codes: columnCodes(indexed, index.rows), accept })
  }
  const rows = new Uint8Array(index.rows).fill(1)
  for (const { codes, accept } of wanted) {
    if (codes.length !== index.rows) return undefined // a damaged index: read the file
    for (let r = 0; r < rows.length; r++) if (rows[r] === 1 && accept[codes[r] as number] !== 1) rows[r] = 0
  }
  return rows
}

/** How many rows a matchingRows() result holds. */
export function countRows (rows: Uint8Array): number {
  let n = 0
  for (let r = 0; r < rows.length; r++) n += rows[r] as number
  return n
}
