import { Command } from 'commander'
import type { Consumer, Log, LogRecord } from '../../log/types.ts'
import { parseIntFlag } from '../main.ts'
import { renderRecord } from '../render.ts'
import { createConsumeValueDecoder } from './schemas.ts'
import type { CommandContext } from '../context.ts'

interface ConsumeOptions {
  topic: string
  group?: string
  fromBeginning?: boolean
  max?: number
  idleTimeoutMs?: number
}

/** Turns a record's value into JSON for printing (e.g. Avro); undefined leaves the bytes as they are. */
type ValueDecoder = (value: Buffer) => Promise<{ format: string, value: unknown, [extra: string]: unknown } | undefined>

export function createConsumeCommand (ctx: CommandContext): Command {
  return new Command('consume')
    .description('Print records as NDJSON (key, value, headers, partition, offset, timestamp).')
    .requiredOption('--topic <topic>', 'topic to read')
    .option('--group <group>', 'read as a member of this consumer group, committing what was printed (default: read without a group)')
    .option('--from-beginning', 'start at the oldest record when there is no committed offset (default: only new records)')
    .option('--max <n>', 'stop after this many records', parseIntFlag('--max', 1))
    .option('--idle-timeout-ms <ms>', 'stop when no record arrived for this long', parseIntFlag('--idle-timeout-ms', 1))
    .action(async (options: ConsumeOptions) => {
      const log = await ctx.openLog()
      const description = await log.admin.describeTopic(options.topic)
      // Confluent-framed values (Avro, JSON Schema) are decoded through the registry automatically.
      const decoder = createConsumeValueDecoder(ctx)
      const stop = new AbortController()
      const onSignal = () => stop.abort()
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      try {
        const source = options.group === undefined
          ? new GrouplessReader(log, options.topic, description.partitions.map(p => options.fromBeginning === true ? p.lowOffset : p.highOffset))
          : new GroupReader(log.consumer({ group: options.group, topics: [options.topic], autoOffsetReset: options.fromBeginning === true ? 'earliest' : 'latest' }))
        await printRecords(ctx, source, options, stop.signal, decoder.decode)
      } finally {
        await decoder.close()
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }
    })
}

interface RecordSource {
  next (maxRecords: number, signal: AbortSignal): Promise<LogRecord[]>
  /** Called once the records are printed. */
  done (records: LogRecord[]): Promise<void>
  close (): Promise<void>
}

async function printRecords (ctx: CommandContext, source: RecordSource, options: ConsumeOptions, signal: AbortSignal, decode: ValueDecoder): Promise<void> {
  let printed = 0
  let lastRecordAt = Date.now()
  try {
    while (!signal.aborted && (options.max === undefined || printed < options.max)) {
      if (options.idleTimeoutMs !== undefined && Date.now() - lastRecordAt > options.idleTimeoutMs) break
      const records = await source.next(options.max === undefined ? 1000 : Math.min(1000, options.max - printed), signal)
      if (records.length === 0) continue
      lastRecordAt = Date.now()
      let text = ''
      for (const record of records) {
        const decoded = record.value === null ? undefined : await decode(record.value)
        text += JSON.stringify(renderRecord(record, decoded === undefined ? undefined : () => decoded)) + '\n'
      }
      if (!ctx.stdout.write(text)) await new Promise(resolve => ctx.stdout.once('drain', resolve))
      printed += records.length
      await source.done(records)
    }
  } finally {
    await source.close()
  }
}

class GroupReader implements RecordSource {
  readonly #consumer: Consumer
  constructor (consumer: Consumer) { this.#consumer = consumer }
  next (maxRecords: number, signal: AbortSignal): Promise<LogRecord[]> {
    return this.#consumer.poll({ maxRecords, timeoutMs: 200, signal })
  }

  async done (records: LogRecord[]): Promise<void> {
    const next = new Map<string, { topic: string, partition: number, offset: number }>()
    for (const r of records) next.set(`${r.topic}:${r.partition}`, { topic: r.topic, partition: r.partition, offset: r.offset + 1 })
    await this.#consumer.commit([...next.values()])
  }

  close (): Promise<void> { return this.#consumer.close() }
}

/** Reads every partition from a start offset, without joining a group (nothing is committed). */
class GrouplessReader implements RecordSource {
  readonly #log: Log
  readonly #topic: string
  readonly #positions: number[]
  constructor (log: Log, topic: string, positions: number[]) {
    this.#log = log
    this.#topic = topic
    this.#positions = positions
  }

  async next (maxRecords: number, signal: AbortSignal): Promise<LogRecord[]> {
    const records: LogRecord[] = []
    for (let partition = 0; partition < this.#positions.length && records.length < maxRecords; partition++) {
      const batch = await this.#log.read(this.#topic, partition, this.#positions[partition] ?? 0, maxRecords - records.length)
      const last = batch[batch.length - 1]
      if (last !== undefined) this.#positions[partition] = last.offset + 1
      records.push(...batch)
    }
    if (records.length === 0 && !signal.aborted) await new Promise(resolve => setTimeout(resolve, 50))
    return records
  }

  async done (): Promise<void> {}
  async close (): Promise<void> {}
}
