/**
 * The Log: Vigil's only durable queue. Two backends (embedded SQLite, Apache Kafka) implement
 * this interface and pass one contract suite (test/log/contract.ts).
 *
 * Conventions shared by both backends:
 * - Offsets are per partition, start at 0, and are JavaScript numbers (safe up to 2^53).
 * - A committed offset is the offset of the *next* record to read (Kafka's convention).
 * - Timestamps are milliseconds since the Unix epoch.
 * - Headers are an ordered list of [name, value] pairs: names may repeat, values are bytes,
 *   and both round-trip byte for byte.
 */

export type Header = readonly [name: string, value: Buffer]

export interface TopicConfig {
  /** Number of partitions (fixed at creation). */
  partitions: number
  /** Kafka only: replication factor (the embedded log keeps one copy). */
  replicationFactor: number
  /** Records older than this are deleted; -1 keeps them forever. */
  retentionMs: number
  /** Per partition: the oldest records are deleted while the partition is larger; -1 = no limit. */
  retentionBytes: number
  /** `delete` drops old records; `compact` keeps the latest value per key (a null value is a tombstone). */
  cleanupPolicy: 'delete' | 'compact'
  /** A record whose key + value + headers exceed this is refused with VGL_LOG_RECORD_TOO_LARGE. */
  maxMessageBytes: number
}

export const defaultTopicConfig: Readonly<TopicConfig> = Object.freeze({
  partitions: 1,
  replicationFactor: 1,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  cleanupPolicy: 'delete',
  maxMessageBytes: 1024 * 1024 + 1024
})

export interface TopicSpec extends Partial<TopicConfig> {
  name: string
}

export interface TopicDescription {
  name: string
  config: TopicConfig
  partitions: PartitionDescription[]
}

export interface PartitionDescription {
  partition: number
  /** Offset of the oldest record still stored. */
  lowOffset: number
  /** Offset the next produced record will get (the log end offset). */
  highOffset: number
}

export interface ProduceRecord {
  /** Keys pick the partition through Kafka's murmur2 partitioner unless `partition` is set. */
  key?: Buffer | null
  value: Buffer | null
  headers?: readonly Header[]
  /** Defaults to the time of the produce call. */
  timestamp?: number
  partition?: number
}

export interface RecordMetadata {
  topic: string
  partition: number
  offset: number
  timestamp: number
}

export interface LogRecord {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: Header[]
}

export interface TopicPartition {
  topic: string
  partition: number
}

export interface TopicPartitionOffset extends TopicPartition {
  offset: number
}

export type SeekPosition =
  | { kind: 'beginning' }
  | { kind: 'end' }
  | { kind: 'offset', offset: number }
  | { kind: 'timestamp', timestamp: number }

export interface ConsumerOptions {
  group: string
  topics: string[]
  /** Where to start a partition that has no committed offset: `earliest` or `latest` (default). */
  autoOffsetReset?: 'earliest' | 'latest'
  /** How long a member may be silent before the group reassigns its partitions. */
  sessionTimeoutMs?: number
  /** Called after partitions are assigned to this member. */
  onAssign?: (partitions: TopicPartition[]) => void | Promise<void>
  /**
   * Called before partitions are taken away, while this member still owns them: the place to
   * finish in-flight work and commit. Records already returned by poll() for these partitions
   * must not be handled after this returns.
   */
  onRevoke?: (partitions: TopicPartition[]) => void | Promise<void>
}

export interface PollOptions {
  /** At most this many records (default 1000). */
  maxRecords?: number
  /**
   * Wait until at least this many records are there (default 1), as Kafka's fetch.min.bytes: a
   * consumer that handles records in batches reads fewer, larger ones. At timeoutMs the poll
   * resolves with what there is.
   */
  minRecords?: number
  /** Wait up to this long for the first record, or minRecords (default 1000). Resolves with [] on timeout. */
  timeoutMs?: number
  /** Resolves early with what was read so far. */
  signal?: AbortSignal
}

/**
 * A member of a consumer group. Delivery is at-least-once: a record is handed out again after a
 * restart or rebalance unless its offset was committed. Records of one partition come in offset
 * order; records of different partitions may interleave.
 */
export interface Consumer {
  readonly group: string
  /** The next records from assigned, unpaused partitions. Only one poll may be in flight. */
  poll (options?: PollOptions): Promise<LogRecord[]>
  /** Commits `offset` (= last handled + 1) for each partition. Partitions this member no longer owns are refused. */
  commit (offsets: readonly TopicPartitionOffset[]): Promise<void>
  /** Moves the read position of an assigned partition; takes effect at the next poll. */
  seek (partition: TopicPartition, position: SeekPosition): Promise<void>
  pause (partitions: readonly TopicPartition[]): void
  resume (partitions: readonly TopicPartition[]): void
  assignment (): TopicPartition[]
  /** Leaves the group (without committing anything itself). Idempotent. */
  close (): Promise<void>
}

export interface GroupPartitionLag extends TopicPartition {
  /** null when the group never committed this partition. */
  committedOffset: number | null
  highOffset: number
  lag: number
}

export interface GroupDescription {
  group: string
  state: string
  members: Array<{ memberId: string, clientId: string, assignment: TopicPartition[] }>
  offsets: GroupPartitionLag[]
  totalLag: number
}

export interface LogAdmin {
  createTopic (spec: TopicSpec): Promise<TopicDescription>
  /** Creates the topic when missing; returns the existing one otherwise (its config untouched). */
  ensureTopic (spec: TopicSpec): Promise<TopicDescription>
  describeTopic (name: string): Promise<TopicDescription>
  listTopics (): Promise<string[]>
  deleteTopic (name: string): Promise<void>
  listGroups (): Promise<string[]>
  describeGroup (group: string): Promise<GroupDescription>
}

export interface Log {
  readonly kind: 'embedded' | 'kafka'
  /** A printable location with secrets removed, e.g. `embedded:./data/vigil.db`. */
  readonly url: string
  readonly admin: LogAdmin
  /** Opens files or connections; throws VGL_LOG_UNREACHABLE when it cannot. */
  connect (): Promise<void>
  /** Resolves when the log answers; throws VGL_LOG_UNREACHABLE otherwise. Used by /readyz. */
  ping (): Promise<void>
  /**
   * Appends records to one topic. Resolves only when every record is durable (embedded: fsynced
   * in a group commit; Kafka: acks=all from an idempotent producer). All or nothing per call on
   * the embedded log; on Kafka a failed call may have stored some records (at-least-once).
   */
  produce (topic: string, records: readonly ProduceRecord[]): Promise<RecordMetadata[]>
  consumer (options: ConsumerOptions): Consumer
  /**
   * Reads without a group, for queries and tooling: up to `maxRecords` records of one partition
   * starting at `offset` (or the first stored offset after it).
   */
  read (topic: string, partition: number, offset: number, maxRecords: number): Promise<LogRecord[]>
  /** First offset whose timestamp is >= `timestamp`, or the high offset when there is none. */
  offsetForTimestamp (topic: string, partition: number, timestamp: number): Promise<number>
  /** Stops background work and closes files or connections. Idempotent. */
  close (): Promise<void>
}
