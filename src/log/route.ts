/**
 * Produce-side checks shared by every backend, run before anything is queued so a refused call
 * writes nothing: each record's types and size (key + value + header names and values against
 * the topic's maxMessageBytes), and its partition: `partition` when given, Kafka's murmur2 of
 * the key when keyed, round-robin otherwise.
 */
import { VigilError } from '../errors.ts'
import { partitionForKey, type RoundRobin } from './partitioner.ts'
import type { Header, ProduceRecord, TopicConfig } from './types.ts'

export interface RoutedRecords {
  /** Partition of each record. */
  partitions: Uint32Array
  /** The distinct partitions, in first-use order. */
  used: number[]
}

/**
 * Checks every record of a produce() call and picks its partition: `partition` when given,
 * murmur2 of the key when keyed, round-robin otherwise. Throws on the first bad record.
 */
export function routeRecords (name: string, config: Pick<TopicConfig, 'partitions' | 'maxMessageBytes'>, records: readonly ProduceRecord[], roundRobin: RoundRobin): RoutedRecords {
  const { partitions: count, maxMessageBytes } = config
  const partitions = new Uint32Array(records.length)
  const seen = new Uint8Array(count)
  const used: number[] = []
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as ProduceRecord
    const key = record.key ?? null
    const value = record.value
    if (key !== null && !(key instanceof Uint8Array)) throw invalidRecord(name, i, 'its key is not a Buffer or null')
    if (value !== null && !(value instanceof Uint8Array)) throw invalidRecord(name, i, 'its value is not a Buffer or null')
    let size = (key === null ? 0 : key.byteLength) + (value === null ? 0 : value.byteLength)
    const headers = record.headers
    if (headers !== undefined && headers.length > 0) {
      for (const header of headers) {
        if (!Array.isArray(header) || typeof header[0] !== 'string' || !(header[1] instanceof Uint8Array)) {
          throw invalidRecord(name, i, 'a header is not a [name: string, value: Buffer] pair')
        }
      }
      size += headersPayloadSize(headers)
    }
    if (size > maxMessageBytes) {
      throw new VigilError('VGL_LOG_RECORD_TOO_LARGE',
        `record ${i} of the call is ${size} bytes (key + value + headers), over maxMessageBytes ${maxMessageBytes} of topic ${name}; nothing was written`,
        { topic: name, index: i, size, maxMessageBytes })
    }
    if (record.timestamp !== undefined && !Number.isSafeInteger(record.timestamp)) {
      throw invalidRecord(name, i, `its timestamp ${String(record.timestamp)} is not a whole number of milliseconds`)
    }
    let partition: number
    if (record.partition !== undefined) {
      partition = record.partition
      if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
        throw new VigilError('VGL_LOG_PARTITION_INVALID',
          `record ${i} names partition ${String(partition)}, but topic ${name} has partitions 0 to ${count - 1}`,
          { topic: name, partition, partitions: count })
      }
    } else if (key !== null) {
      partition = partitionForKey(key, count)
    } else {
      partition = roundRobin.next(name, count)
    }
    partitions[i] = partition
    if (seen[partition] === 0) {
      seen[partition] = 1
      used.push(partition)
    }
  }
  return { partitions, used }
}

function invalidRecord (topic: string, index: number, why: string): VigilError {
  return new VigilError('VGL_LOG_RECORD_INVALID', `record ${index} produced to ${topic} is invalid: ${why}; nothing was written`,
    { topic, index })
}

/** Bytes the headers count towards maxMessageBytes: names (UTF-8) plus values. */
export function headersPayloadSize (headers: readonly Header[]): number {
  let size = 0
  for (const [name, value] of headers) size += Buffer.byteLength(name) + value.byteLength
  return size
}
