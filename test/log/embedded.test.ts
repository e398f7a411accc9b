/**
 * The embedded (SQLite) log: the shared contract suite, then what is specific to this backend
 * (group commit, retention, compaction, the time index, the group protocol between two
 * connections, errors). Tests that need other processes are in embedded-processes.test.ts.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { Worker } from 'node:worker_threads'
import { validateConfig } from '../../src/config/load.ts'
import { isVigilError, VigilError } from '../../src/errors.ts'
import { startCheckpointer } from '../../src/log/embedded/checkpointer.ts'
import { createEmbeddedLog } from '../../src/log/embedded/embedded-log.ts'
import { errorFromWire, errorToWire } from '../../src/log/embedded/writer-protocol.ts'
import { partitionForKey } from '../../src/log/partitioner.ts'
import type { Consumer, Log, LogRecord, TopicPartition } from '../../src/log/types.ts'
import { nextOffsets, pollCount, runLogContract } from './contract.ts'

type Overrides = Record<string, number>
type TestContext = { after: (fn: () => unknown) => void }

const deadlineMs = 30_000

function createLog (path: string, overrides: Overrides = {}): Log {
  const { embedded } = validateConfig({ log: { url: `embedded:${path}`, embedded: { maintenanceIntervalMs: 200, ...overrides } } }).log
  return createEmbeddedLog({ path, ...embedded })
}

async function openLog (t: TestContext, path: string, overrides: Overrides = {}): Promise<Log> {
  const log = createLog(path, overrides)
  await log.connect()
  t.after(() => log.close())
  return log
}

async function tempDb (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-embedded-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return join(dir, 'log.db')
}

async function readAll (log: Log, topic: string, partition: number): Promise<LogRecord[]> {
  const records: LogRecord[] = []
  for (let offset = 0; ;) {
    const batch = await log.read(topic, partition, offset, 1000)
    if (batch.length === 0) return records
    records.push(...batch)
    offset = (batch.at(-1)?.offset ?? offset) + 1
  }
}

async function waitFor (condition: () => boolean | Promise<boolean>, what: string, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + deadlineMs
  while (!await condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

const text = (value: Buffer | null | undefined): string => value === null || value === undefined ? 'null' : value.toString()

// ------------------------------------------------------------------------------------ contract

const contractDir = mkdtempSync(join(tmpdir(), 'vigil-embedded-contract-'))
after(() => rmSync(contractDir, { recursive: true, force: true }))
runLogContract('embedded', {
  deadlineMs,
  open: async () => {
    const log = createLog(join(contractDir, 'contract.db'))
    await log.connect()
    return log
  }
})

// -------------------------------------------------------------------------------- group commit

test('group commit: concurrent produce calls share transactions, are all acknowledged and readable in order', async (t) => {
  const log = await openLog(t, await tempDb(t), { groupCommitMaxRecords: 500 })
  await log.admin.createTopic({ name: 'gc', partitions: 4 })
  const commits: Array<{ operations: number, records: number }> = []
  const onCommit = (message: unknown): void => { commits.push(message as { operations: number, records: number }) }
  subscribe('vigil:log:embedded:commit', onCommit)
  t.after(() => unsubscribe('vigil:log:embedded:commit', onCommit))

  const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`)
  const calls = 2000
  // All calls are made before any of them is written, so they can only be written in groups.
  const results = await Promise.all(Array.from({ length: calls }, (_, call) => {
    const key = keys[call % keys.length] as string
    return log.produce('gc', Array.from({ length: 1 + (call % 3) }, (_, i) => ({ key: Buffer.from(key), value: Buffer.from(`${key}:${call}:${i}`) })))
  }))
  const totalRecords = results.reduce((n, r) => n + r.length, 0)
  assert.equal(totalRecords, Array.from({ length: calls }, (_, call) => 1 + (call % 3)).reduce((a, b) => a + b, 0))
  assert.ok(commits.length < calls / 10, `${calls} calls were written in ${commits.length} transactions`)
  assert.ok(commits.every(c => c.records <= 500), 'no group is larger than groupCommitMaxRecords')
  assert.equal(commits.reduce((n, c) => n + c.records, 0), totalRecords)

  const stored = new Map<string, LogRecord>()
  for (let partition = 0; partition < 4; partition++) {
    const records = await readAll(log, 'gc', partition)
    assert.deepEqual(records.map(r => r.offset), records.map((_, i) => i), `offsets of partition ${partition} have no holes`)
    for (const r of records) stored.set(`${partition}/${r.offset}`, r)
  }
  assert.equal(stored.size, totalRecords)
  results.forEach((metadata, call) => {
    metadata.forEach((m, i) => {
      const key = keys[call % keys.length] as string
      assert.equal(m.partition, partitionForKey(Buffer.from(key), 4))
      assert.equal(text(stored.get(`${m.partition}/${m.offset}`)?.value), `${key}:${call}:${i}`, 'the acknowledged offset holds the record')
    })
  })
  // Per key, records are stored in the order of the calls.
  for (const key of keys) {
    const partition = partitionForKey(Buffer.from(key), 4)
    const sequence = (await readAll(log, 'gc', partition)).filter(r => text(r.key) === key).map(r => text(r.value).split(':').slice(1).map(Number))
    const sorted = [...sequence].sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number))
    assert.deepEqual(sequence, sorted, `order of ${key}`)
  }
})

test('produce refuses a whole call with a coded error: unknown topic, bad partition, too large, malformed', async (t) => {
  const log = await openLog(t, await tempDb(t))
  await log.admin.createTopic({ name: 'small', partitions: 2, maxMessageBytes: 1000 })
  const refused = (code: string) => (error: unknown) => isVigilError(error) && error.code === code
  await assert.rejects(log.produce('missing', [{ value: Buffer.from('x') }]), refused('VGL_LOG_TOPIC_NOT_FOUND'))
  assert.deepEqual(await log.admin.listTopics(), ['small'], 'produce never creates a topic')
  for (const partition of [2, -1, 0.5]) {
    await assert.rejects(log.produce('small', [{ value: Buffer.from('ok') }, { value: Buffer.from('x'), partition }]), refused('VGL_LOG_PARTITION_INVALID'))
  }
  // 1000 bytes is the limit for key + value + header names and values together.
  await log.produce('small', [{ key: Buffer.alloc(10), value: Buffer.alloc(980), headers: [['h', Buffer.alloc(9)]], partition: 0 }])
  await assert.rejects(log.produce('small', [
    { value: Buffer.from('fine'), partition: 0 },
    { key: Buffer.alloc(10), value: Buffer.alloc(980), headers: [['h', Buffer.alloc(10)]], partition: 0 }
  ]), (error: unknown) => refused('VGL_LOG_RECORD_TOO_LARGE')(error) && /1001 bytes/.test((error as Error).message))
  await assert.rejects(log.produce('small', [{ value: 'text' as unknown as Buffer }]), refused('VGL_LOG_RECORD_INVALID'))
  await assert.rejects(log.produce('small', [{ value: null, headers: [['h', 'v' as unknown as Buffer]] }]), refused('VGL_LOG_RECORD_INVALID'))
  await assert.rejects(log.produce('small', [{ value: null, timestamp: Number.NaN }]), refused('VGL_LOG_RECORD_INVALID'))
  const stored = [...await readAll(log, 'small', 0), ...await readAll(log, 'small', 1)]
  assert.equal(stored.length, 1, 'nothing of a refused call was written')
  assert.deepEqual(await log.produce('small', []), [])
})

test('topics: names and settings are validated, config is stored, and a deleted topic\'s records are purged', async (t) => {
  const path = await tempDb(t)
  const log = await openLog(t, path)
  for (const name of ['', 'a b', 'x'.repeat(250), 'slash/name']) {
    await assert.rejects(log.admin.createTopic({ name }), (e) => isVigilError(e, 'VGL_LOG_TOPIC_INVALID'), `name ${JSON.stringify(name)}`)
  }
  for (const bad of [{ partitions: 0 }, { partitions: 1.5 }, { retentionMs: -2 }, { maxMessageBytes: 0 }, { cleanupPolicy: 'archive' as 'delete' }]) {
    await assert.rejects(log.admin.createTopic({ name: 'bad', ...bad }), (e) => isVigilError(e, 'VGL_LOG_TOPIC_INVALID'), JSON.stringify(bad))
  }
  const created = await log.admin.createTopic({ name: 'Cfg.topic_1-x', partitions: 3, retentionMs: -1, retentionBytes: 5000, cleanupPolicy: 'compact', maxMessageBytes: 77 })
  assert.deepEqual(created.config, { partitions: 3, replicationFactor: 1, retentionMs: -1, retentionBytes: 5000, cleanupPolicy: 'compact', maxMessageBytes: 77 })
  assert.deepEqual(created.partitions, [0, 1, 2].map(partition => ({ partition, lowOffset: 0, highOffset: 0 })))
  await assert.rejects(log.admin.deleteTopic('missing'), (e) => isVigilError(e, 'VGL_LOG_TOPIC_NOT_FOUND'))

  await log.admin.createTopic({ name: 'doomed', partitions: 2 })
  await log.produce('doomed', Array.from({ length: 5000 }, (_, i) => ({ value: Buffer.from(`old-${i}`) })))
  await log.admin.deleteTopic('doomed')
  await log.admin.createTopic({ name: 'doomed', partitions: 2 })
  const [fresh] = await log.produce('doomed', [{ value: Buffer.from('new'), partition: 0 }])
  assert.equal(fresh?.offset, 0, 'a re-created topic starts again at offset 0')
  assert.deepEqual((await readAll(log, 'doomed', 0)).map(r => text(r.value)), ['new'])
  // The old records are removed in the background, in small transactions.
  const { DatabaseSync } = await import('node:sqlite')
  const db = new DatabaseSync(path, { readOnly: true })
  t.after(() => db.close())
  await waitFor(() => Number(db.prepare('SELECT count(*) AS n FROM records').get()?.n) === 1, 'records of the deleted topic purged')
})

test('connect, ping and close: missing directories are created; bad paths, early and late use are coded errors', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-embedded-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const log = createLog(join(dir, 'a', 'b', 'log.db'))
  assert.equal(log.kind, 'embedded')
  assert.equal(log.url, `embedded:${join(dir, 'a', 'b', 'log.db')}`)
  await assert.rejects(log.produce('t', []), (e) => isVigilError(e, 'VGL_LOG_NOT_CONNECTED'))
  await log.connect()
  await log.connect()
  await log.ping()
  await log.admin.createTopic({ name: 't' })
  const consumer = log.consumer({ group: 'g', topics: ['t'] })
  await log.close()
  await log.close()
  const closed = (e: unknown): boolean => isVigilError(e, 'VGL_LOG_CLOSED')
  await assert.rejects(log.produce('t', [{ value: null }]), closed)
  await assert.rejects(log.read('t', 0, 0, 1), closed)
  await assert.rejects(log.admin.listTopics(), closed)
  await assert.rejects(log.ping(), closed)
  await assert.rejects(consumer.poll(), closed)
  await assert.rejects(consumer.commit([{ topic: 't', partition: 0, offset: 0 }]), closed)
  assert.throws(() => log.consumer({ group: 'g', topics: ['t'] }), closed)
  await assert.rejects(log.connect(), closed)

  writeFileSync(join(dir, 'a-file'), 'not a directory')
  const underFile = join(dir, 'a-file', 'log.db')
  await assert.rejects(createLog(underFile).connect(),
    (e) => isVigilError(e, 'VGL_LOG_UNREACHABLE') && e.message.includes(underFile) && e.context.path === underFile)
  const notSqlite = join(dir, 'garbage.db')
  writeFileSync(notSqlite, 'this is not an SQLite database, not even close: '.repeat(100))
  await assert.rejects(createLog(notSqlite).connect(), (e) => isVigilError(e, 'VGL_LOG_UNREACHABLE') && e.message.includes(notSqlite))
})

test('produce resolves only after the write: in-flight commits finish before close() resolves', async (t) => {
  const path = await tempDb(t)
  const log = createLog(path)
  await log.connect()
  await log.admin.createTopic({ name: 't', partitions: 2 })
  const pending = Array.from({ length: 100 }, (_, i) => log.produce('t', [{ value: Buffer.from(String(i)) }]))
  await log.close()
  assert.equal((await Promise.all(pending)).length, 100, 'calls made before close() are written, not dropped')
  const reopened = await openLog(t, path)
  const values = [...await readAll(reopened, 't', 0), ...await readAll(reopened, 't', 1)].map(r => Number(text(r.value)))
  assert.deepEqual(values.sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i))
})

test('the writer thread: a write it had in hand when it died fails (not acknowledged, not stored); the next write starts a new one', async (t) => {
  // The log's only Worker is its writer thread: catch it as the log talks to it.
  const workers: Worker[] = []
  const postMessage = Worker.prototype.postMessage
  Worker.prototype.postMessage = function (this: Worker, ...args: Parameters<Worker['postMessage']>) {
    if (!workers.includes(this)) workers.push(this)
    return postMessage.apply(this, args)
  }
  t.after(() => { Worker.prototype.postMessage = postMessage })
  const path = await tempDb(t)
  const log = await openLog(t, path)
  await log.admin.createTopic({ name: 't' })
  await log.produce('t', [{ value: Buffer.from('before') }])
  assert.equal(workers.length, 1)
  // Another connection holds the write lock, so the next write waits on the thread; the thread dies meanwhile.
  const blocker = new DatabaseSync(path)
  blocker.exec('BEGIN IMMEDIATE')
  const inHand = log.produce('t', [{ value: Buffer.from('lost') }])
  await new Promise(resolve => setTimeout(resolve, 100))
  const died = (workers[0] as Worker).terminate()
  blocker.exec('ROLLBACK')
  blocker.close()
  await died
  await assert.rejects(inHand, (e) => isVigilError(e, 'VGL_LOG_BACKEND_ERROR') && e.retryable && /writer thread/.test(e.message))
  await log.produce('t', [{ value: Buffer.from('after') }])
  assert.equal(workers.length, 2, 'a new writer thread took over')
  assert.deepEqual((await readAll(log, 't', 0)).map(r => text(r.value)), ['before', 'after'])
})

test('errors cross the writer thread with their code, message, hint and plain context; others become VGL_LOG_BACKEND_ERROR', () => {
  const original = new VigilError('VGL_LOG_NOT_ASSIGNED', 'consumer m of group g no longer owns t/0', { group: 'g', partition: 0, cause: new Error('inner'), hint: 'Poll again.' })
  // What crosses is a structured clone: only plain data.
  const back = errorFromWire(structuredClone(errorToWire(original)))
  assert.ok(isVigilError(back, 'VGL_LOG_NOT_ASSIGNED'))
  assert.equal(back.message, original.message)
  assert.equal(back.hint, 'Poll again.')
  assert.deepEqual(back.context, { group: 'g', partition: 0 })
  const unforeseen = errorFromWire(structuredClone(errorToWire(new TypeError('boom'))))
  assert.ok(isVigilError(unforeseen, 'VGL_LOG_BACKEND_ERROR') && unforeseen.message === 'boom')
})

test('a new file gets 64 KiB pages; a file made with 4 KiB pages keeps them and works as before', async (t) => {
  const path = await tempDb(t)
  const log = await openLog(t, path)
  await log.admin.createTopic({ name: 't' })
  const pageSize = (file: string): number => {
    const db = new DatabaseSync(file, { readOnly: true })
    try { return Number(db.prepare('PRAGMA page_size').get()?.page_size) } finally { db.close() }
  }
  assert.equal(pageSize(path), 65536)

  const older = join(dirname(path), 'older.db')
  const db = new DatabaseSync(older)
  db.exec('PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE made_before (x)')
  db.close()
  const log4k = await openLog(t, older)
  await log4k.admin.createTopic({ name: 't' })
  const big = Buffer.alloc(20_000, 1) // overflow pages at 4 KiB
  await log4k.produce('t', [{ value: big }, { value: Buffer.from('small') }])
  assert.equal(pageSize(older), 4096)
  const read = await readAll(log4k, 't', 0)
  assert.ok(read[0]?.value?.equals(big))
  assert.equal(text(read[1]?.value ?? null), 'small')
})

test('the checkpoint thread copies the WAL in the background, so the WAL restarts long before SQLite\'s own checkpoint would run', async (t) => {
  const path = await tempDb(t)
  const walBytes = (): number => { try { return statSync(`${path}-wal`).size } catch { return 0 } }
  // 120 MB in commits of 1 MB. Without the thread, the commit that takes the WAL past 1000 pages
  // (64 MB) would copy it; with it, the WAL file never gets near that.
  const log = await openLog(t, path, { checkpointIntervalMs: 20 })
  await log.admin.createTopic({ name: 't' })
  const value = Buffer.alloc(16_000, 7)
  let largest = 0
  for (let i = 0; i < 120; i++) {
    await log.produce('t', Array.from({ length: 64 }, () => ({ value })))
    largest = Math.max(largest, walBytes())
    // Now and then a moment without commits, in which the WAL can restart.
    if (i % 5 === 4) await new Promise(resolve => setTimeout(resolve, 50))
  }
  assert.ok(largest < 48 * 1024 * 1024, `the WAL grew to ${largest} bytes`)
  assert.equal((await readAll(log, 't', 0)).length, 120 * 64)
})

test('the log\'s threads hold the file exactly from connect() to close(): three connections once connected, none once closed', { skip: !existsSync('/proc/self/fd') && 'needs /proc' }, async (t) => {
  // A thread still starting after connect(), or still open after close(), reopened the file under
  // a caller removing its directory (a CI run failed with ENOTEMPTY that way).
  const handles = (path: string): number => readdirSync('/proc/self/fd').filter(fd => {
    try { return readlinkSync(`/proc/self/fd/${fd}`) === path } catch { return false }
  }).length
  for (let i = 0; i < 4; i++) {
    const path = await tempDb(t)
    const log = createLog(path, { checkpointIntervalMs: 10 })
    t.after(() => log.close())
    await log.connect()
    assert.equal(handles(path), 3, 'the event loop, the writer thread and the checkpoint thread')
    if (i % 2 === 1) {
      await log.admin.createTopic({ name: 't' })
      await log.produce('t', [{ value: Buffer.from('x') }])
    }
    await log.close()
    assert.equal(handles(path), 0)
    // The last connection to close removes the WAL and its index.
    assert.equal(existsSync(`${path}-wal`) || existsSync(`${path}-shm`), false)
  }
})

test('a checkpoint thread that cannot open the file is reported, once, and neither blocks its start nor its stop (SQLite\'s own checkpoint takes over)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-checkpointer-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const notADatabase = join(dir, 'garbage.db')
  writeFileSync(notADatabase, Buffer.alloc(8192, 0x41))
  for (const path of [join(dir, 'missing', 'log.db'), notADatabase]) {
    const reports: string[] = []
    const checkpointer = startCheckpointer({ path, intervalMs: 10 }, message => reports.push(message))
    await checkpointer.ready
    await checkpointer.stop()
    assert.equal(reports.length, 1, path)
    assert.match(reports[0] as string, /unable to open|not a database/, path)
  }
  // A good file: ready, nothing reported, stopped.
  const reports: string[] = []
  const path = join(dir, 'good.db')
  const db = new DatabaseSync(path)
  db.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (x)')
  t.after(() => db.close())
  const checkpointer = startCheckpointer({ path, intervalMs: 10 }, message => reports.push(message))
  await checkpointer.ready
  await new Promise(resolve => setTimeout(resolve, 50))
  await checkpointer.stop()
  assert.deepEqual(reports, [])
})

// ------------------------------------------------------------------------- records and reads

test('1 MiB, empty and null values and headers round-trip through read() and poll()', async (t) => {
  const log = await openLog(t, await tempDb(t))
  await log.admin.createTopic({ name: 'shapes' })
  const big = Buffer.alloc(1024 * 1024)
  for (let i = 0; i < big.length; i++) big[i] = (i * 131 + 17) & 0xff
  const headers: Array<[string, Buffer]> = [
    ['dup', Buffer.from([0])],
    ['bytes', Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
    ['dup', Buffer.from([1, 2])],
    ['', Buffer.from('empty name')],
    ['zero', Buffer.alloc(0)],
    ['dup', Buffer.from([0xde, 0xad, 0xbe, 0xef])],
    ['名前', Buffer.from('値')]
  ]
  const produced = [
    { key: Buffer.from('big'), value: big },
    { key: null, value: Buffer.alloc(0) },
    { key: Buffer.from('tomb'), value: null },
    { value: Buffer.from('no key field') },
    { key: Buffer.alloc(0), value: Buffer.from('h'), headers },
    { value: Buffer.from('empty header list'), headers: [] }
  ]
  await log.produce('shapes', produced)
  const read = await log.read('shapes', 0, 0, 100)
  const consumer = log.consumer({ group: 'shapes', topics: ['shapes'], autoOffsetReset: 'earliest' })
  t.after(() => consumer.close())
  const polled = await pollCount(consumer, produced.length, deadlineMs)
  for (const records of [read, polled]) {
    assert.equal(records.length, produced.length)
    assert.ok(records[0]?.value?.equals(big))
    assert.ok(Buffer.isBuffer(records[0]?.value) && Buffer.isBuffer(records[0]?.key), 'keys and values are Buffers')
    assert.deepEqual(records.map(r => r.key === null ? null : r.key.toString('hex')), [Buffer.from('big').toString('hex'), null, Buffer.from('tomb').toString('hex'), null, '', null])
    assert.deepEqual(records.slice(1).map(r => r.value === null ? null : r.value.toString()), ['', null, 'no key field', 'h', 'empty header list'])
    assert.deepEqual(records[4]?.headers.map(([name, value]) => [name, value.toString('hex')]), headers.map(([name, value]) => [name, value.toString('hex')]))
    assert.deepEqual(records[5]?.headers, [])
  }
  assert.deepEqual((await log.read('shapes', 0, 4, 1)).map(r => r.offset), [4], 'read() starts at the offset asked')
  // Plain Uint8Arrays are accepted too (and come back as Buffers).
  const [plain] = await log.produce('shapes', [{ key: new Uint8Array([1, 2, 3]) as Buffer, value: new Uint8Array([4, 5]) as Buffer }])
  const [back] = await log.read('shapes', 0, plain?.offset ?? 0, 1)
  assert.ok(Buffer.isBuffer(back?.key) && back.key.equals(Buffer.from([1, 2, 3])) && back.value?.equals(Buffer.from([4, 5])))
})

test('offsetForTimestamp and seek by timestamp find the first record at or after the time, also with out-of-order times', async (t) => {
  const log = await openLog(t, await tempDb(t))
  await log.admin.createTopic({ name: 'times', retentionMs: -1 })
  const base = 1_700_000_000_000
  // 5000 records (several time index entries), in calls of 250; a few timestamps go backwards.
  const timestamps = Array.from({ length: 5000 }, (_, i) => i % 997 === 5 ? base + i * 10 - 50_000 : base + i * 10)
  for (let i = 0; i < timestamps.length; i += 250) {
    await log.produce('times', timestamps.slice(i, i + 250).map(timestamp => ({ value: Buffer.from('x'), timestamp })))
  }
  const expected = (ts: number): number => { const i = timestamps.findIndex(x => x >= ts); return i === -1 ? timestamps.length : i }
  for (const ts of [0, base - 50_000, base, base + 1, base + 10_000, base + 10_005, base + 33_333, base + 49_990, base + 49_991, base + 10_000_000]) {
    assert.equal(await log.offsetForTimestamp('times', 0, ts), expected(ts), `offset for ${ts - base}`)
  }
  await assert.rejects(log.offsetForTimestamp('times', 1, base), (e) => isVigilError(e, 'VGL_LOG_PARTITION_INVALID'))

  const consumer = log.consumer({ group: 'times', topics: ['times'], autoOffsetReset: 'earliest' })
  t.after(() => consumer.close())
  await pollCount(consumer, 1, deadlineMs, 1)
  await consumer.seek({ topic: 'times', partition: 0 }, { kind: 'timestamp', timestamp: base + 40_000 })
  const [first] = await consumer.poll({ maxRecords: 1, timeoutMs: deadlineMs })
  assert.equal(first?.offset, expected(base + 40_000))
  assert.equal(first?.timestamp, timestamps[first?.offset ?? 0])
})

// ------------------------------------------------------------------- retention and compaction

test('retention by time deletes from the head; offsets keep their values and readers skip the gap', async (t) => {
  const log = await openLog(t, await tempDb(t))
  await log.admin.createTopic({ name: 'aging', retentionMs: 60_000 })
  const old = Date.now() - 3_600_000
  await log.produce('aging', Array.from({ length: 3000 }, (_, i) => ({ value: Buffer.from(`old-${i}`), timestamp: old + i })))
  await log.produce('aging', Array.from({ length: 10 }, (_, i) => ({ value: Buffer.from(`new-${i}`) })))
  await waitFor(async () => (await log.admin.describeTopic('aging')).partitions[0]?.lowOffset === 3000, 'old records deleted')
  const records = await log.read('aging', 0, 0, 100)
  assert.deepEqual(records.map(r => r.offset), Array.from({ length: 10 }, (_, i) => 3000 + i))
  assert.deepEqual((await log.admin.describeTopic('aging')).partitions, [{ partition: 0, lowOffset: 3000, highOffset: 3010 }])
  const consumer = log.consumer({ group: 'aging', topics: ['aging'], autoOffsetReset: 'earliest' })
  t.after(() => consumer.close())
  assert.deepEqual((await pollCount(consumer, 10, deadlineMs, 10)).map(r => text(r.value)), Array.from({ length: 10 }, (_, i) => `new-${i}`))
})

test('retention by bytes keeps each partition under retentionBytes, dropping the oldest records', async (t) => {
  const log = await openLog(t, await tempDb(t))
  await log.admin.createTopic({ name: 'sized', partitions: 2, retentionBytes: 10_000 })
  for (let i = 0; i < 5; i++) {
    await log.produce('sized', Array.from({ length: 20 }, (_, j) => ({ value: Buffer.alloc(1000, i * 20 + j), partition: 0 })))
  }
  await log.produce('sized', [{ value: Buffer.alloc(1000), partition: 1 }])
  await waitFor(async () => (await log.admin.describeTopic('sized')).partitions[0]?.lowOffset === 90, 'partition 0 cut to 10 records')
  const records = await readAll(log, 'sized', 0)
  assert.deepEqual(records.map(r => r.offset), Array.from({ length: 10 }, (_, i) => 90 + i))
  assert.deepEqual((await log.admin.describeTopic('sized')).partitions[1], { partition: 1, lowOffset: 0, highOffset: 1 }, 'the small partition is untouched')
})

test('compaction keeps the latest record per key; tombstones stay for retentionMs, then go', async (t) => {
  const log = await openLog(t, await tempDb(t))
  await log.admin.createTopic({ name: 'keep-tombstones', cleanupPolicy: 'compact', retentionMs: -1 })
  await log.admin.createTopic({ name: 'drop-tombstones', cleanupPolicy: 'compact', retentionMs: 300 })
  const put = (key: string | null, value: string | null) => ({ key: key === null ? null : Buffer.from(key), value: value === null ? null : Buffer.from(value) })
  const batch = [put('a', 'a1'), put('b', 'b1'), put(null, 'unkeyed'), put('a', 'a2'), put('b', null), put('c', 'c1'), put('a', 'a3')]
  // Enough records for several compaction steps.
  const many = Array.from({ length: 5000 }, (_, i) => put(`k${i % 100}`, `v${i}`))
  for (const topic of ['keep-tombstones', 'drop-tombstones']) {
    await log.produce(topic, batch)
    await log.produce(topic, many)
  }
  const contents = async (topic: string): Promise<string[]> => (await readAll(log, topic, 0)).map(r => `${r.offset}:${text(r.key)}=${text(r.value)}`)
  const latest = Array.from({ length: 100 }, (_, k) => `${7 + 4900 + k}:k${k}=v${4900 + k}`)
  await waitFor(async () => (await contents('keep-tombstones')).length === 104, 'compaction')
  assert.deepEqual(await contents('keep-tombstones'), ['2:null=unkeyed', '4:b=null', '5:c=c1', '6:a=a3', ...latest])
  await waitFor(async () => (await contents('drop-tombstones')).length === 103, 'tombstone removal')
  assert.deepEqual(await contents('drop-tombstones'), ['2:null=unkeyed', '5:c=c1', '6:a=a3', ...latest])
  // A key written again after its tombstone is an ordinary live key.
  await log.produce('drop-tombstones', [put('b', 'b2')])
  await new Promise(resolve => setTimeout(resolve, 800))
  assert.ok((await contents('drop-tombstones')).includes('5007:b=b2'))
  assert.deepEqual(await contents('keep-tombstones'), ['2:null=unkeyed', '4:b=null', '5:c=c1', '6:a=a3', ...latest], 'with retentionMs -1 the tombstone stays')
})

// ------------------------------------------------------------------------------ consumer groups

interface Member {
  consumer: Consumer
  id: string
  revoked: TopicPartition[][]
  run: Promise<void>
}

test('rebalance between two members on two connections: nothing lost, no committed record handled again', async (t) => {
  const path = await tempDb(t)
  const logA = await openLog(t, path)
  const logB = await openLog(t, path)
  await logA.admin.createTopic({ name: 'work', partitions: 6 })
  const total = 3000
  const committedBy = new Map<string, string>()
  const handled: Array<{ value: string, by: string }> = []
  const violations: string[] = []
  const stop = new AbortController()

  function start (log: Log, id: string): Member {
    const revoked: TopicPartition[][] = []
    const pending = new Map<string, { topic: string, partition: number, offset: number, values: string[] }>()
    const commitPending = async (consumer: Consumer): Promise<void> => {
      const batch = [...pending.values()]
      pending.clear()
      if (batch.length === 0) return
      await consumer.commit(batch.map(({ topic, partition, offset }) => ({ topic, partition, offset })))
      for (const b of batch) for (const v of b.values) committedBy.set(v, id)
    }
    const consumer: Consumer = log.consumer({
      group: 'workers',
      topics: ['work'],
      autoOffsetReset: 'earliest',
      // Work handled but not yet committed is committed while the partitions are still ours.
      onRevoke: async (partitions) => {
        revoked.push(partitions)
        await commitPending(consumer)
      }
    })
    t.after(() => consumer.close())
    const run = (async () => {
      let polls = 0
      while (!stop.signal.aborted) {
        const records = await consumer.poll({ maxRecords: 50, timeoutMs: 100, signal: stop.signal })
        for (const r of records) {
          const value = text(r.value)
          const owner = committedBy.get(value)
          if (owner !== undefined) violations.push(`${value} committed by ${owner}, handled again by ${id}`)
          handled.push({ value, by: id })
          const key = `${r.topic}/${r.partition}`
          const entry = pending.get(key) ?? { topic: r.topic, partition: r.partition, offset: 0, values: [] }
          entry.offset = r.offset + 1
          entry.values.push(value)
          pending.set(key, entry)
        }
        // Commit every other poll, so that a rebalance often finds uncommitted work.
        if (++polls % 2 === 0) await commitPending(consumer)
      }
      await commitPending(consumer)
    })()
    return { consumer, id, revoked, run }
  }

  const produceSome = (from: number, count: number) => logA.produce('work', Array.from({ length: count }, (_, i) => ({
    key: Buffer.from(`k${(from + i) % 60}`), value: Buffer.from(String(from + i))
  })))
  const a = start(logA, 'a')
  await produceSome(0, 1000)
  await waitFor(() => committedBy.size >= 200, 'member a commits')
  const b = start(logB, 'b')
  await produceSome(1000, 1000)
  await waitFor(() => a.consumer.assignment().length === 3 && b.consumer.assignment().length === 3, 'partitions split 3/3')
  assert.ok(a.revoked.length > 0, 'member a had partitions revoked')
  await produceSome(2000, 1000)
  await waitFor(() => committedBy.size === total, `all ${total} records committed`)
  stop.abort()
  await Promise.all([a.run, b.run])

  assert.deepEqual(violations, [])
  assert.deepEqual([...new Set(handled.map(h => h.value))].sort((x, y) => Number(x) - Number(y)), Array.from({ length: total }, (_, i) => String(i)), 'nothing lost')
  assert.equal(handled.length, total, 'with commits in onRevoke, nothing is handled twice at all')
  assert.ok(handled.some(h => h.by === 'b'), 'member b handled records')
  const partitionsOf = (m: Member): number[] => m.consumer.assignment().map(p => p.partition)
  assert.deepEqual([...partitionsOf(a), ...partitionsOf(b)].sort(), [0, 1, 2, 3, 4, 5])

  const description = await logB.admin.describeGroup('workers')
  assert.equal(description.state, 'Stable')
  assert.equal(description.members.length, 2)
  assert.equal(description.totalLag, 0)
  assert.deepEqual(await logB.admin.listGroups(), ['workers'])

  // When a leaves, b takes over its partitions.
  await a.consumer.close()
  await waitFor(async () => { await b.consumer.poll({ timeoutMs: 50 }); return b.consumer.assignment().length === 6 }, 'b owns all partitions')
  assert.equal((await logB.admin.describeGroup('workers')).members.length, 1)
})

test('a commit for a partition the member gave up is refused with VGL_LOG_NOT_ASSIGNED, and the next owner gets the records', async (t) => {
  const path = await tempDb(t)
  const logA = await openLog(t, path)
  const logB = await openLog(t, path)
  await logA.admin.createTopic({ name: 'lost', partitions: 2 })
  await logA.produce('lost', [0, 1].flatMap(partition => Array.from({ length: 5 }, (_, i) => ({ value: Buffer.from(`${partition}-${i}`), partition }))))
  const revokedFromA: TopicPartition[] = []
  const a = logA.consumer({ group: 'g', topics: ['lost'], autoOffsetReset: 'earliest', onRevoke: (p) => { revokedFromA.push(...p) } })
  t.after(() => a.close())
  const held = await pollCount(a, 10, deadlineMs, 10)
  assert.equal(a.assignment().length, 2)
  const b = logB.consumer({ group: 'g', topics: ['lost'], autoOffsetReset: 'earliest' })
  t.after(() => b.close())
  assert.deepEqual(await b.poll({ timeoutMs: 100 }), [], 'b waits: a still owns everything')
  // a's next poll runs the rebalance: onRevoke (without committing), then the release.
  await waitFor(async () => { await a.poll({ timeoutMs: 50 }); return a.assignment().length === 1 }, 'a gives a partition up')
  assert.equal(revokedFromA.length, 1)
  const lost = revokedFromA[0] as TopicPartition
  await assert.rejects(a.commit(nextOffsets(held.filter(r => r.partition === lost.partition))),
    (e) => isVigilError(e, 'VGL_LOG_NOT_ASSIGNED') && e.context.partition === lost.partition)
  const kept = held.filter(r => r.partition !== lost.partition)
  await a.commit(nextOffsets(kept))
  const taken = await pollCount(b, 5, deadlineMs, 5)
  assert.deepEqual(taken.map(r => text(r.value)), Array.from({ length: 5 }, (_, i) => `${lost.partition}-${i}`), 'b reads the uncommitted records again')
  await assert.rejects(b.seek({ topic: 'lost', partition: 1 - lost.partition }, { kind: 'beginning' }), (e) => isVigilError(e, 'VGL_LOG_NOT_ASSIGNED'))
})

test('consumer details: latest reset, pause, abort, one poll at a time, seek checks, closed consumer', async (t) => {
  const log = await openLog(t, await tempDb(t))
  await log.admin.createTopic({ name: 'c', partitions: 2 })
  await log.produce('c', [{ value: Buffer.from('before'), partition: 0 }])
  const assigned: TopicPartition[] = []
  const consumer = log.consumer({ group: 'latest', topics: ['c'], onAssign: (p) => { assigned.push(...p) } })
  assert.deepEqual(await consumer.poll({ timeoutMs: 50 }), [], 'latest: records from before joining are skipped')
  assert.deepEqual(assigned.map(p => p.partition).sort(), [0, 1])

  // A waiting poll wakes as soon as a record is written, well before its timeout.
  const waiting = consumer.poll({ timeoutMs: 60_000 })
  await assert.rejects(consumer.poll(), (e) => isVigilError(e, 'VGL_LOG_POLL_IN_PROGRESS'))
  await log.produce('c', [{ value: Buffer.from('after'), partition: 1 }])
  assert.deepEqual((await waiting).map(r => text(r.value)), ['after'])

  const controller = new AbortController()
  const aborted = consumer.poll({ timeoutMs: 60_000, signal: controller.signal })
  controller.abort()
  assert.deepEqual(await aborted, [])

  consumer.pause([{ topic: 'c', partition: 0 }])
  await log.produce('c', [{ value: Buffer.from('paused'), partition: 0 }])
  assert.deepEqual(await consumer.poll({ timeoutMs: 100 }), [])
  consumer.resume([{ topic: 'c', partition: 0 }])
  assert.deepEqual((await consumer.poll({ timeoutMs: 1000 })).map(r => text(r.value)), ['paused'])

  await assert.rejects(consumer.seek({ topic: 'c', partition: 0 }, { kind: 'offset', offset: -1 }), (e) => isVigilError(e, 'VGL_LOG_OFFSET_INVALID'))
  await assert.rejects(consumer.commit([{ topic: 'c', partition: 0, offset: 1.5 }]), (e) => isVigilError(e, 'VGL_LOG_OFFSET_INVALID'))
  await consumer.seek({ topic: 'c', partition: 0 }, { kind: 'beginning' })
  assert.deepEqual((await consumer.poll({ timeoutMs: 1000 })).map(r => text(r.value)), ['before', 'paused'])
  assert.throws(() => log.consumer({ group: 'x', topics: ['nope'] }), (e) => isVigilError(e, 'VGL_LOG_TOPIC_NOT_FOUND'))
  assert.throws(() => log.consumer({ group: '', topics: ['c'] }), (e) => isVigilError(e, 'VGL_LOG_GROUP_INVALID'))

  await consumer.close()
  await consumer.close()
  await assert.rejects(consumer.poll(), (e) => isVigilError(e, 'VGL_LOG_CLOSED'))
  const description = await log.admin.describeGroup('latest')
  assert.equal(description.state, 'Empty')
  assert.deepEqual(description.members, [])
})
