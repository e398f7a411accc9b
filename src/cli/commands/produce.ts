import { createInterface } from 'node:readline'
import { Command, Option } from 'commander'
import { VigilError } from '../../errors.ts'
import type { Header, ProduceRecord, RecordMetadata } from '../../log/types.ts'
import { parseIntFlag } from '../main.ts'
import type { CommandContext } from '../context.ts'
import { createSchemaEncoder, openCliSchemaServices } from './schemas.ts'

interface ProduceOptions {
  topic: string
  format: 'json' | 'raw'
  keyField?: string
  key?: string
  partition?: number
  header: string[]
  batchSize: number
  schema?: string
}

/** Turns one input line into a record, or explains what is wrong with it. */
export type LineEncoder = (line: string, lineNumber: number) => ProduceRecord | Promise<ProduceRecord>

export function createProduceCommand (ctx: CommandContext): Command {
  return new Command('produce')
    .description('Produce records read from standard input, one per line (NDJSON by default), and print a summary.')
    .requiredOption('--topic <topic>', 'topic to produce to')
    .addOption(new Option('--format <format>', 'json: each line must be a JSON value; raw: any text').choices(['json', 'raw']).default('json'))
    .option('--key-field <path>', 'take each record\'s key from this field of the JSON line (dotted path, e.g. node.id)')
    .option('--key <key>', 'the same key for every record')
    .option('--partition <n>', 'send every record to this partition', parseIntFlag('--partition', 0))
    .option('--header <name=value>', 'add a header to every record (repeatable)', (value: string, all: string[]) => [...all, value], [])
    .option('--batch-size <n>', 'records per produce call', parseIntFlag('--batch-size', 1, 100_000), 1000)
    .option('--schema <subject>', 'encode each JSON line with the subject\'s latest schema (Avro or JSON Schema) in the Confluent wire format')
    .action(async (options: ProduceOptions) => {
      if (options.format !== 'json' && (options.keyField !== undefined || options.schema !== undefined)) {
        throw new VigilError('VGL_CLI_USAGE', `${options.keyField !== undefined ? '--key-field' : '--schema'} needs --format json`, { flag: options.keyField !== undefined ? '--key-field' : '--schema' })
      }
      const log = await ctx.openLog()
      await log.admin.describeTopic(options.topic) // an unknown topic fails before any input is read
      const encoder = options.schema === undefined ? undefined : await createSchemaEncoder(ctx, options.schema)
      // A topic bound to a subject (schemaRegistry.topicSubjects) refuses records that do not match it.
      const bound = options.schema === undefined && ctx.config().schemaRegistry.topicSubjects.some(b => b.topic === options.topic)
      const services = bound ? await openCliSchemaServices(ctx) : undefined
      try {
        const summary = await produceLines(ctx, options.topic, lineEncoder(options, encoder?.encode), options.batchSize, async records =>
          await log.produce(options.topic, services === undefined ? records : await services.validator.prepare(options.topic, records)))
        ctx.stdout.write(JSON.stringify(summary) + '\n')
      } finally {
        await encoder?.close()
        await services?.close()
      }
    })
}

export interface ProduceSummary {
  topic: string
  produced: number
  partitions: Record<string, { firstOffset: number, lastOffset: number, count: number }>
}

/** Reads stdin line by line, encodes, produces in batches; empty lines are skipped. */
export async function produceLines (
  ctx: CommandContext,
  topic: string,
  encode: LineEncoder,
  batchSize: number,
  send: (records: ProduceRecord[]) => Promise<RecordMetadata[]>
): Promise<ProduceSummary> {
  const summary: ProduceSummary = { topic, produced: 0, partitions: {} }
  let batch: ProduceRecord[] = []
  let batchFirstLine = 1
  const flush = async () => {
    if (batch.length === 0) return
    let metadata: RecordMetadata[]
    try {
      metadata = await send(batch)
    } catch (error) {
      if (error instanceof VigilError) {
        throw new VigilError(error.code, `${error.message} (input lines from ${batchFirstLine}: ${summary.produced} records were produced before this batch, none of it after)`,
          { ...error.context, cause: error, hint: error.hint })
      }
      throw error
    }
    for (const m of metadata) {
      const p = summary.partitions[m.partition] ??= { firstOffset: m.offset, lastOffset: m.offset, count: 0 }
      p.lastOffset = Math.max(p.lastOffset, m.offset)
      p.firstOffset = Math.min(p.firstOffset, m.offset)
      p.count++
    }
    summary.produced += metadata.length
    batch = []
  }
  let lineNumber = 0
  for await (const rawLine of createInterface({ input: ctx.stdin, crlfDelay: Infinity })) {
    lineNumber++
    const line = rawLine.trim()
    if (line === '') continue
    if (batch.length === 0) batchFirstLine = lineNumber
    batch.push(await encode(line, lineNumber))
    if (batch.length >= batchSize) await flush()
  }
  await flush()
  return summary
}

function lineEncoder (options: ProduceOptions, encodeValue?: (value: unknown) => Buffer): LineEncoder {
  const headers: Header[] = options.header.map(h => {
    const eq = h.indexOf('=')
    if (eq <= 0) throw new VigilError('VGL_CLI_USAGE', `--header must look like name=value, got ${JSON.stringify(h)}`, { flag: '--header' })
    return [h.slice(0, eq), Buffer.from(h.slice(eq + 1))]
  })
  const fixedKey = options.key === undefined ? null : Buffer.from(options.key)
  return (line, lineNumber) => {
    let key: Buffer | null = fixedKey
    let bytes: Buffer | undefined
    if (options.format === 'json') {
      const value = parseJsonLine(line, lineNumber)
      if (options.keyField !== undefined) key = keyFromField(value, options.keyField, lineNumber)
      if (encodeValue !== undefined) bytes = encodeAt(encodeValue, value, lineNumber)
    }
    return {
      key,
      value: bytes ?? Buffer.from(line),
      ...(headers.length > 0 ? { headers } : {}),
      ...(options.partition === undefined ? {} : { partition: options.partition })
    }
  }
}

function encodeAt (encode: (value: unknown) => Buffer, value: unknown, lineNumber: number): Buffer {
  try {
    return encode(value)
  } catch (error) {
    if (error instanceof VigilError) throw new VigilError(error.code, `line ${lineNumber}: ${error.message}`, { ...error.context, line: lineNumber, cause: error, hint: error.hint })
    throw error
  }
}

export function parseJsonLine (line: string, lineNumber: number): unknown {
  try {
    return JSON.parse(line)
  } catch (cause) {
    throw new VigilError('VGL_CLI_INPUT_INVALID', `line ${lineNumber} is not JSON: ${(cause as Error).message}`, {
      line: lineNumber,
      hint: 'Each line must be one JSON value; use --format raw to produce lines as plain text.'
    })
  }
}

function keyFromField (value: unknown, path: string, lineNumber: number): Buffer {
  let node: unknown = value
  for (const part of path.split('.')) node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined
  if (typeof node === 'string') return Buffer.from(node)
  if (typeof node === 'number' || typeof node === 'boolean') return Buffer.from(String(node))
  throw new VigilError('VGL_CLI_INPUT_INVALID', `line ${lineNumber} has no string or number at ${path} to use as the key`, {
    line: lineNumber,
    field: path,
    hint: 'Every line needs the --key-field field, or drop --key-field to produce unkeyed records.'
  })
}
