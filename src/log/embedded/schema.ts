/**
 * The embedded log's SQLite schema (PRAGMA user_version = schemaVersion).
 *
 * - `records` holds one row per record, clustered by (tp, off): appends go to the end of the
 *   B-tree and reads are range scans. Deleted records leave gaps; offsets never change.
 * - `partitions` holds, per topic-partition (`tp`), the next offset to assign, the stored bytes
 *   (key + value + encoded headers, for retentionBytes), the largest timestamp so far and the
 *   compaction cleaner point. Produce updates it in the same transaction as the records.
 * - `time_index` is sparse (one row every `timeIndexInterval` offsets): all records before
 *   `off` have a timestamp <= `max_ts`, so a search by timestamp only scans from the last entry
 *   whose `max_ts` is below the target.
 * - `compact_keys` is the compactor's own map key -> latest offset (compact topics only; never
 *   touched on the produce path).
 * - `dropped_partitions` lists partitions of deleted topics whose records the background
 *   maintenance still has to remove (in small transactions).
 * - `groups`, `group_members`, `group_owners`, `group_offsets`: the consumer group protocol
 *   (see consumer.ts).
 */

export const schemaVersion = 1

/** A time index entry is written when a partition has grown this many offsets since the last. */
export const timeIndexInterval = 1024

export const schemaSql = `
CREATE TABLE IF NOT EXISTS topics (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  partitions INTEGER NOT NULL,
  replication_factor INTEGER NOT NULL,
  retention_ms INTEGER NOT NULL,
  retention_bytes INTEGER NOT NULL,
  cleanup_policy TEXT NOT NULL,
  max_message_bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS partitions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  topic_id INTEGER NOT NULL,
  partition INTEGER NOT NULL,
  next_offset INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  max_ts INTEGER NOT NULL DEFAULT 0,
  indexed_offset INTEGER NOT NULL DEFAULT 0,
  clean_offset INTEGER NOT NULL DEFAULT 0,
  UNIQUE (topic_id, partition)
);
CREATE TABLE IF NOT EXISTS records (
  tp INTEGER NOT NULL,
  off INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  key BLOB,
  value BLOB,
  headers BLOB,
  PRIMARY KEY (tp, off)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS time_index (
  tp INTEGER NOT NULL,
  off INTEGER NOT NULL,
  max_ts INTEGER NOT NULL,
  PRIMARY KEY (tp, off)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS time_index_by_ts ON time_index (tp, max_ts);
CREATE TABLE IF NOT EXISTS compact_keys (
  tp INTEGER NOT NULL,
  key BLOB NOT NULL,
  off INTEGER NOT NULL,
  tombstone_at INTEGER,
  PRIMARY KEY (tp, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS compact_keys_tombstones ON compact_keys (tp, tombstone_at) WHERE tombstone_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS dropped_partitions (
  tp INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS groups (
  name TEXT PRIMARY KEY,
  generation INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS group_members (
  group_name TEXT NOT NULL,
  member_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  topics TEXT NOT NULL,
  session_timeout_ms INTEGER NOT NULL,
  joined_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  PRIMARY KEY (group_name, member_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_owners (
  group_name TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  member_id TEXT NOT NULL,
  PRIMARY KEY (group_name, topic, partition)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS group_owners_by_member ON group_owners (group_name, member_id);
CREATE TABLE IF NOT EXISTS group_offsets (
  group_name TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  off INTEGER NOT NULL,
  committed_at INTEGER NOT NULL,
  PRIMARY KEY (group_name, topic, partition)
) WITHOUT ROWID;
`
