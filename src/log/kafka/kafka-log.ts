/**
 * The `kafka` backend of Vigil's Log, on @platformatic/kafka: Apache Kafka or Redpanda.
 *
 * - produce(): records are checked and routed exactly as on the embedded log (same murmur2
 *   partitioner as Java clients), then sent by one idempotent producer with acks=all, so a
 *   resolved produce is on every in-sync replica and the client's retries never duplicate.
 *   Concurrent calls to one topic share Produce requests (group produce, see #pump); a request
 *   never holds more than max.message.bytes for one partition, so a large call spans several.
 *   Transient failures (leader moved, broker restarting) are retried for about
 *   requestTimeoutMs, then the call fails with VGL_LOG_UNREACHABLE.
 * - consumer(): see kafka-consumer.ts. read() and offsetForTimestamp() use no group.
 * - connect() and ping() give up after connectTimeoutMs (VGL_LOG_UNREACHABLE naming the brokers).
 * - Admin: kafka-admin.ts; topic configs: topic-config.ts; errors: errors.ts.
 */
import {
  Admin, ConfigResourceTypes, Consumer as KafkaClientConsumer, Producer, type fetchV17, type MessageToProduce
} from '@platformatic/kafka'
import { VigilError } from '../../errors.ts'
import { routeRecords } from '../route.ts'
import { RoundRobin } from '../partitioner.ts'
import {
  defaultTopicConfig, type Consumer, type ConsumerOptions, type Log, type LogAdmin, type LogRecord, type ProduceRecord, type RecordMetadata
} from '../types.ts'
import { backoff, baseClientOptions, printableUrl, type KafkaLogOptions } from './client-options.ts'
import { kafkaErrorIds, timeoutError, toLogError, withDeadline, type KafkaErrorContext } from './errors.ts'
import { KafkaLogAdmin, type AdminHost } from './kafka-admin.ts'
import { KafkaConsumer, type ConsumerHost } from './kafka-consumer.ts'
import { appendRecords, payloadBytes, recordBatchBytes } from './records.ts'
import { checkConsumerOptions, checkTopicName } from '../topic-spec.ts'

export type { KafkaLogOptions }

/** How long produce() trusts what it learned about a topic (partition count, max.message.bytes). */
const topicInfoTtlMs = 10_000
/** Record batch header bytes, which count towards max.message.bytes. */
const batchOverheadBytes = 61
/** Most bytes of records in one Produce request (brokers refuse requests over 100 MiB). */
const maxRequestBytes = 8 * 1024 * 1024
/**
 * Produce requests handed to the client at once. The client sends one at a time per broker
 * connection (idempotence), but encodes the next ones meanwhile; calls that arrive while all are
 * busy are batched into the next request.
 */
const maxSendsInFlight = 4
/** Bytes one read() fetch asks for per round trip. */
const readFetchBytes = 1024 * 1024

export function createKafkaLog (options: KafkaLogOptions): Log {
  return new KafkaLog(options)
}

interface TopicInfo {
  partitions: number
  maxMessageBytes: number
  expires: number
}

/** A produce() call waiting for (or in) a Produce request. */
interface PendingProduce {
  topic: string
  records: readonly ProduceRecord[]
  partitions: Uint32Array
  /** recordBatchBytes() of each record. */
  sizes: Uint32Array
  info: TopicInfo
  /** Timestamp of records that carry none: the time of the call. */
  now: number
  /** The next record to put in a request. */
  next: number
  acked: number
  out: RecordMetadata[]
  settled: boolean
  resolve: (metadata: RecordMetadata[]) => void
  reject: (error: unknown) => void
}

interface Clients {
  admin: Admin
  producer: Producer
  reader: KafkaClientConsumer
}

class KafkaLog implements Log, AdminHost, ConsumerHost {
  readonly kind = 'kafka' as const
  readonly url: string
  readonly admin: LogAdmin
  readonly options: KafkaLogOptions
  readonly #admin: KafkaLogAdmin
  #state: 'new' | 'connecting' | 'open' | 'closed' = 'new'
  #clients: Clients | undefined
  #connecting: Promise<void> | undefined
  #closePromise: Promise<void> | undefined
  readonly #topics = new Map<string, Promise<TopicInfo>>()
  readonly #refreshing = new Set<string>()
  readonly #roundRobin = new RoundRobin()
  readonly #consumers = new Set<KafkaConsumer>()
  readonly #queue: PendingProduce[] = []
  #sending = 0

  constructor (options: KafkaLogOptions) {
    this.options = options
    this.url = printableUrl(options)
    this.#admin = new KafkaLogAdmin(this)
    this.admin = this.#admin
  }

  connect (): Promise<void> {
    if (this.#state === 'open') return Promise.resolve()
    if (this.#state === 'closed') return Promise.reject(this.#closedError())
    this.#connecting ??= this.#connect().finally(() => { this.#connecting = undefined })
    return this.#connecting
  }

  async #connect (): Promise<void> {
    const clients = this.#createClients()
    this.#state = 'connecting'
    try {
      await this.#reach(clients.admin, 'connect')
    } catch (error) {
      // connect() may be tried again (e.g. until the brokers are up).
      this.#state = 'new'
      await closeClients(clients)
      throw error
    }
    if (this.#state !== 'connecting') {
      await closeClients(clients)
      throw this.#closedError()
    }
    this.#clients = clients
    this.#state = 'open'
  }

  async ping (): Promise<void> {
    await this.#reach(this.#open().admin, 'ping')
  }

  /** One metadata round trip, within connectTimeoutMs. */
  async #reach (admin: Admin, action: string): Promise<void> {
    const context = this.errorContext(`${action} to Kafka`)
    try {
      await withDeadline(admin.metadata({ topics: [], forceUpdate: true }), this.options.connectTimeoutMs, () => timeoutError(context, this.options.connectTimeoutMs))
    } catch (error) {
      throw toLogError(error, context)
    }
  }

  async produce (topic: string, records: readonly ProduceRecord[]): Promise<RecordMetadata[]> {
    this.#open()
    checkTopicName(topic)
    const info = await this.#topicInfo(topic)
    const { partitions } = routeRecords(topic, info, records, this.#roundRobin)
    if (records.length === 0) return []
    // Kafka's limit is on the batch: a record that cannot fit one on its own is refused here, so
    // it never fails a Produce request that also carries other calls' records.
    const sizes = new Uint32Array(records.length)
    for (let i = 0; i < records.length; i++) {
      const size = sizes[i] = recordBatchBytes(records[i] as ProduceRecord)
      if (size + batchOverheadBytes > info.maxMessageBytes) {
        throw new VigilError('VGL_LOG_RECORD_TOO_LARGE',
          `record ${i} of the call takes ${size + batchOverheadBytes} bytes as a Kafka record batch (payload plus up to ${size + batchOverheadBytes - payloadBytes(records[i] as ProduceRecord)} bytes of framing), ` +
          `over max.message.bytes ${info.maxMessageBytes} of topic ${topic}; nothing was written`,
          { topic, index: i, size: size + batchOverheadBytes, maxMessageBytes: info.maxMessageBytes })
      }
    }
    const context = this.errorContext(`produce to ${topic}`, { topic })
    const call: PendingProduce = {
      topic,
      records,
      partitions,
      sizes,
      info,
      now: Date.now(),
      next: 0,
      acked: 0,
      out: new Array(records.length),
      settled: false,
      resolve: () => {},
      reject: () => {}
    }
    const done = new Promise<RecordMetadata[]>((resolve, reject) => { call.resolve = resolve; call.reject = reject })
    this.#queue.push(call)
    this.#pump()
    try {
      return await withDeadline(done, this.options.requestTimeoutMs + this.options.connectTimeoutMs, () => {
        // Not sent yet: drop it, nothing of it is stored. (A part in flight may still be stored.)
        const at = this.#queue.indexOf(call)
        if (call.next === 0 && at >= 0) this.#queue.splice(at, 1)
        call.settled = true
        return timeoutError(context, this.options.requestTimeoutMs)
      })
    } catch (error) {
      const mapped = toLogError(error, context)
      if (mapped.code === 'VGL_LOG_TOPIC_NOT_FOUND' || mapped.code === 'VGL_LOG_RECORD_TOO_LARGE') this.forgetTopic(topic)
      throw mapped
    }
  }

  /**
   * Group produce: a Produce request carries the queued calls of one topic, in call order, up to
   * max.message.bytes per partition and maxRequestBytes in all (a call may span requests). Calls
   * that arrive while maxSendsInFlight requests are under way go together in the next one, so many
   * small concurrent calls cost few requests; per-partition order follows call order.
   */
  #pump (): void {
    if (this.#sending >= maxSendsInFlight || this.#queue.length === 0) return
    const clients = this.#clients
    if (clients === undefined) return
    this.#sending++
    const head = this.#queue[0] as PendingProduce
    const topic = head.topic
    const messages: Array<MessageToProduce<Buffer, Buffer, Buffer, Buffer>> = []
    const owners: PendingProduce[] = []
    const indexes: number[] = []
    const partitionBytes = new Map<number, number>()
    let bytes = 0
    let full = false
    for (const call of this.#queue) {
      if (call.topic !== topic) continue
      const limit = call.info.maxMessageBytes - batchOverheadBytes
      for (; call.next < call.records.length; call.next++) {
        const i = call.next
        const partition = call.partitions[i] as number
        const size = call.sizes[i] as number
        const inPartition = partitionBytes.get(partition) ?? 0
        if (messages.length > 0 && (inPartition + size > limit || bytes + size > maxRequestBytes)) {
          full = true
          break
        }
        partitionBytes.set(partition, inPartition + size)
        bytes += size
        messages.push(toMessage(topic, partition, call.records[i] as ProduceRecord, call.now))
        owners.push(call)
        indexes.push(i)
      }
      if (full) break
    }
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      const call = this.#queue[i] as PendingProduce
      if (call.next === call.records.length) this.#queue.splice(i, 1)
    }
    clients.producer.send({ messages }).then(result => {
      const next = new Map<number, number>()
      for (const o of result.offsets ?? []) if (o.topic === topic) next.set(o.partition, Number(o.offset))
      for (let k = 0; k < messages.length; k++) {
        const call = owners[k] as PendingProduce
        const partition = (messages[k] as MessageToProduce).partition as number
        const offset = next.get(partition) ?? -1
        next.set(partition, offset + 1)
        call.out[indexes[k] as number] = { topic, partition, offset, timestamp: Number((messages[k] as MessageToProduce).timestamp) }
        if (++call.acked === call.records.length && !call.settled) {
          call.settled = true
          call.resolve(call.out)
        }
      }
    }, (error: unknown) => {
      for (const call of new Set(owners)) {
        // The rest of a failed call is not sent.
        const at = this.#queue.indexOf(call)
        if (at >= 0) this.#queue.splice(at, 1)
        if (!call.settled) {
          call.settled = true
          call.reject(error)
        }
      }
    }).finally(() => {
      this.#sending--
      this.#pump()
    })
  }

  consumer (options: ConsumerOptions): Consumer {
    this.#open()
    checkConsumerOptions(options)
    const consumer = new KafkaConsumer(this, options)
    this.#consumers.add(consumer)
    return consumer
  }

  async read (topic: string, partition: number, offset: number, maxRecords: number): Promise<LogRecord[]> {
    const { reader } = this.#open()
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new VigilError('VGL_LOG_OFFSET_INVALID', `cannot read ${topic}/${partition} from offset ${String(offset)}`, { topic, partition, offset })
    }
    await this.#checkPartition(topic, partition)
    if (maxRecords <= 0) return []
    const context = this.errorContext(`read ${topic}/${partition}`, { topic, partition })
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#readOnce(reader, topic, partition, offset, maxRecords)
      } catch (error) {
        // Retention may delete the oldest segment between the watermark lookup and the fetch:
        // look the low offset up again and read from there, as the contract promises.
        if (attempt < 3 && kafkaErrorIds(error).has('OFFSET_OUT_OF_RANGE')) continue
        throw toLogError(error, context)
      }
    }
  }

  async #readOnce (reader: Clients['reader'], topic: string, partition: number, offset: number, maxRecords: number): Promise<LogRecord[]> {
    const marks = await this.#admin.watermarks(topic)
    const { low, high } = marks[partition] ?? { low: 0, high: 0 }
    let position = Math.max(offset, low)
    const out: LogRecord[] = []
    while (out.length < maxRecords && position < high) {
      const metadata = await reader.metadata({ topics: [topic] })
      const described = metadata.topics.get(topic)
      const leader = described?.partitions[partition]?.leader
      if (described === undefined || leader === undefined) throw new VigilError('VGL_LOG_TOPIC_NOT_FOUND', `topic ${topic} does not exist`, { topic })
      const response: fetchV17.FetchResponse = await reader.fetch({
        node: leader,
        topics: [{ topicId: described.id, partitions: [{ partition, fetchOffset: BigInt(position), partitionMaxBytes: readFetchBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
        maxWaitTime: 0,
        minBytes: 1,
        isolationLevel: 0
      })
      const batches = response.responses[0]?.partitions.find(p => p.partitionIndex === partition)?.records ?? []
      const found: LogRecord[] = []
      const { next } = appendRecords(found, topic, partition, batches, position)
      for (const record of found) {
        if (out.length >= maxRecords || record.offset >= high) break
        out.push(record)
      }
      if (next === undefined || next <= position) break
      position = next
    }
    return out
  }

  async offsetForTimestamp (topic: string, partition: number, timestamp: number): Promise<number> {
    const { admin } = this.#open()
    await this.#checkPartition(topic, partition)
    const context = this.errorContext(`find the offset of ${new Date(timestamp).toISOString()} in ${topic}/${partition}`, { topic, partition })
    try {
      const listed = await admin.listOffsets({
        topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp: BigInt(Math.max(0, Math.floor(timestamp))) }] }],
        isolationLevel: 0
      })
      const offset = Number(listed[0]?.partitions[0]?.offset ?? -1)
      if (offset >= 0) return offset
      // No record at or after the timestamp: the high offset.
      return (await this.#admin.watermarks(topic))[partition]?.high ?? 0
    } catch (error) {
      throw toLogError(error, context)
    }
  }

  close (): Promise<void> {
    this.#closePromise ??= this.#close()
    return this.#closePromise
  }

  async #close (): Promise<void> {
    this.#state = 'closed'
    for (const call of this.#queue.splice(0)) {
      call.settled = true
      call.reject(this.#closedError())
    }
    await this.#connecting?.catch(() => {})
    await Promise.allSettled([...this.#consumers].map(c => c.close()))
    if (this.#clients !== undefined) await closeClients(this.#clients)
    this.#clients = undefined
  }

  // ── hosts of the admin and the consumers ────────────────────────────────────────────────────

  errorContext (action: string, extra: Partial<KafkaErrorContext> = {}): KafkaErrorContext {
    return { ...extra, action, brokers: this.options.brokers }
  }

  forgetTopic (topic: string): void {
    this.#topics.delete(topic)
  }

  consumerClosed (consumer: KafkaConsumer): void {
    this.#consumers.delete(consumer)
  }

  adminClient (): Admin {
    return this.#open().admin
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────

  #createClients (): Clients {
    const options = this.options
    const admin = new Admin({ ...baseClientOptions(options, 'admin'), retries: 3, retryDelay: backoff(250) })
    const producer = new Producer({
      ...baseClientOptions(options, 'producer'),
      idempotent: true,
      acks: -1,
      // Transient failures are retried for about requestTimeoutMs (backoff capped at 500 ms).
      retries: Math.max(5, Math.ceil(options.requestTimeoutMs / 250)),
      retryDelay: backoff(500)
    })
    const reader = new KafkaClientConsumer({
      ...baseClientOptions(options, 'reader'),
      groupId: `${options.clientId}-reader`,
      autocommit: false,
      retries: 3,
      retryDelay: backoff(250)
    })
    return { admin, producer, reader }
  }

  #open (): Clients {
    if (this.#state === 'open' && this.#clients !== undefined) return this.#clients
    if (this.#state === 'closed') throw this.#closedError()
    throw new VigilError('VGL_LOG_NOT_CONNECTED', `the Kafka log ${this.url} is not connected yet`, { url: this.url })
  }

  #closedError (): VigilError {
    return new VigilError('VGL_LOG_CLOSED', `the Kafka log ${this.url} is closed`, { url: this.url })
  }

  /**
   * Partition count and max.message.bytes of a topic. Cached; once older than topicInfoTtlMs the
   * cached answer is still used while a fresh one is fetched in the background, so the produce
   * path never waits for it (only the first produce to a topic does).
   */
  async #topicInfo (topic: string): Promise<TopicInfo> {
    let cached = this.#topics.get(topic)
    if (cached === undefined) {
      cached = this.#lookupTopic(topic)
      this.#topics.set(topic, cached)
      cached.catch(() => { if (this.#topics.get(topic) === cached) this.#topics.delete(topic) })
    }
    const info = await cached
    if (info.expires <= Date.now() && !this.#refreshing.has(topic)) {
      this.#refreshing.add(topic)
      const fresh = this.#lookupTopic(topic)
      fresh.then(() => { this.#topics.set(topic, fresh) }, (error: unknown) => {
        // Deleted meanwhile: the next produce finds out; anything else keeps the old answer a while.
        if (error instanceof VigilError && error.code === 'VGL_LOG_TOPIC_NOT_FOUND') this.#topics.delete(topic)
      }).finally(() => this.#refreshing.delete(topic))
    }
    return info
  }

  async #lookupTopic (topic: string): Promise<TopicInfo> {
    const { admin } = this.#open()
    try {
      const [metadata, configs] = await Promise.all([
        admin.metadata({ topics: [topic], forceUpdate: true }),
        admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: ['max.message.bytes'] }] })
      ])
      const partitions = metadata.topics.get(topic)?.partitionsCount ?? 0
      if (partitions === 0) throw new VigilError('VGL_LOG_TOPIC_NOT_FOUND', `topic ${topic} does not exist`, { topic })
      const max = Number(configs[0]?.configs.find(c => c.name === 'max.message.bytes')?.value)
      return { partitions, maxMessageBytes: Number.isFinite(max) && max > 0 ? max : defaultTopicConfig.maxMessageBytes, expires: Date.now() + topicInfoTtlMs }
    } catch (error) {
      throw toLogError(error, this.errorContext(`look up topic ${topic}`, { topic }))
    }
  }

  async #checkPartition (topic: string, partition: number): Promise<void> {
    checkTopicName(topic)
    const { partitions } = await this.#topicInfo(topic)
    if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
      throw new VigilError('VGL_LOG_PARTITION_INVALID', `topic ${topic} has partitions 0 to ${partitions - 1}, not ${String(partition)}`,
        { topic, partition, partitions })
    }
  }
}

function toMessage (topic: string, partition: number, record: ProduceRecord, now: number): MessageToProduce<Buffer, Buffer, Buffer, Buffer> {
  const message: MessageToProduce<Buffer, Buffer, Buffer, Buffer> = {
    topic,
    partition,
    // platformatic writes null and undefined alike as Kafka's null (length -1).
    value: record.value as Buffer,
    timestamp: BigInt(record.timestamp ?? now)
  }
  if (record.key !== undefined && record.key !== null) message.key = record.key
  if (record.headers !== undefined && record.headers.length > 0) {
    // A Map keyed by fresh Buffers keeps repeated names and their order.
    message.headers = new Map(record.headers.map(([name, value]) => [Buffer.from(name, 'utf8'), value]))
  }
  return message
}

async function closeClients (clients: Clients): Promise<void> {
  const settle = (promise: Promise<unknown>) => Promise.race([promise.catch(() => {}), new Promise(resolve => setTimeout(resolve, 5000).unref())])
  await Promise.all([settle(clients.producer.close(true)), settle(clients.reader.close(true)), settle(clients.admin.close())])
}
