/**
 * The registry's persistence on the log: state rebuilt from `_schemas` after a restart (embedded
 * and Kafka), several registries (processes) on one log converging, first-writer-wins races, and
 * compaction never bringing back a record that lost a race.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { validateConfig } from '../../src/config/load.ts'
import { createLog } from '../../src/log/open.ts'
import type { Log } from '../../src/log/types.ts'
import { LogSchemaRegistry } from '../../src/schema/registry.ts'
import { MemoryLog } from './helpers/memory-log.ts'
import { createRegistry, openEmbeddedLog, tempDir, userV1, userV2 } from './helpers/registry.ts'

const schemaOf = (name: string, fields = [{ name: 'a', type: 'int' }]) => JSON.stringify({ type: 'record', name, fields })

interface Snapshot {
  subjects: string[]
  deletedToo: string[]
  versions: Record<string, Array<{ version: number, id: number, schema: string }>>
  config: string
  subjectConfig: Record<string, string | null>
  mode: string
}

async function snapshot (registry: LogSchemaRegistry): Promise<Snapshot> {
  const deletedToo = await registry.listSubjects({ deleted: true })
  const versions: Snapshot['versions'] = {}
  const subjectConfig: Snapshot['subjectConfig'] = {}
  for (const subject of deletedToo) {
    versions[subject] = []
    for (const version of await registry.listVersions(subject, { deleted: true })) {
      const v = await registry.getVersion(subject, version, { deleted: true })
      versions[subject]?.push({ version, id: v.id, schema: v.schema })
    }
    subjectConfig[subject] = await registry.getConfig(subject).catch(() => null)
  }
  return { subjects: await registry.listSubjects(), deletedToo, versions, config: await registry.getConfig(null), subjectConfig, mode: await registry.getMode(null) }
}

/** Fills a registry with a bit of everything: versions, a second subject, config, a soft delete. */
async function populate (registry: LogSchemaRegistry): Promise<void> {
  await registry.register('users-value', { schema: userV1 })
  await registry.register('users-value', { schema: userV2 })
  await registry.register('orders-value', { schema: schemaOf('Order') })
  await registry.register('gone-value', { schema: schemaOf('Gone') })
  await registry.deleteSubject('gone-value')
  await registry.register('json-value', { schema: '{"type":"object"}', schemaType: 'JSON' })
  await registry.setConfig('orders-value', 'FULL')
  await registry.setConfig(null, 'FORWARD')
  await registry.deleteVersion('users-value', 1)
}

async function checkRestart (t: TestContext, open: () => Promise<Log>, topic: string): Promise<void> {
  const first = await open()
  const before = new LogSchemaRegistry({ log: first, topic, maxStalenessMs: 0 })
  await before.start()
  await populate(before)
  const expected = await snapshot(before)
  await before.close()
  await first.close()

  const second = await open()
  const after = new LogSchemaRegistry({ log: second, topic, maxStalenessMs: 0 })
  await after.start()
  t.after(() => after.close())
  assert.deepEqual(await snapshot(after), expected)
  assert.deepEqual(expected.subjects, ['json-value', 'orders-value', 'users-value'])
  assert.equal(expected.config, 'FORWARD')
  // Ids continue after the restart; known schemas keep theirs.
  assert.deepEqual(await after.register('users-value', { schema: userV2 }), { id: 2 })
  assert.deepEqual(await after.register('more-value', { schema: schemaOf('More') }), { id: 6 })
}

test('registry state survives a restart on the embedded log', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'vigil.db')
  await checkRestart(t, async () => {
    const log = createLog(validateConfig({ log: { url: `embedded:${file}` } }))
    await log.connect()
    t.after(() => log.close())
    return log
  }, '_schemas')
})

const kafka = process.env.TEST_KAFKA
const kafkaSkip = kafka === undefined || kafka === '' ? 'TEST_KAFKA is not set (host:port of a test broker; the test orchestrator starts one)' : false

async function openKafkaLog (t: TestContext): Promise<Log> {
  const log = createLog(validateConfig({ log: { url: `kafka://${kafka as string}` } }))
  await log.connect()
  t.after(() => log.close())
  return log
}

test('registry state survives a restart on Kafka', { skip: kafkaSkip }, async (t) => {
  const topic = `_schemas-test-${randomUUID()}`
  t.after(async () => {
    const admin = await openKafkaLog(t)
    await admin.admin.deleteTopic(topic).catch(() => {})
  })
  await checkRestart(t, async () => await openKafkaLog(t), topic)
})

test('two Vigil processes on one Kafka cluster see the same registry and converge on races', { skip: kafkaSkip }, async (t) => {
  const topic = `_schemas-test-${randomUUID()}`
  const a = await createRegistry(t, await openKafkaLog(t), { topic })
  const b = await createRegistry(t, await openKafkaLog(t), { topic })
  t.after(async () => { await (await openKafkaLog(t)).admin.deleteTopic(topic).catch(() => {}) })
  assert.deepEqual(await a.register('users-value', { schema: userV1 }), { id: 1 })
  assert.equal((await b.getVersion('users-value', 'latest')).id, 1)
  assert.deepEqual(await b.register('users-value', { schema: userV1 }), { id: 1 })
  await a.setConfig('race', 'NONE')
  const [x, y] = await Promise.all([
    a.register('race', { schema: schemaOf('X') }),
    b.register('race', { schema: schemaOf('Y') })
  ])
  assert.notEqual(x.id, y.id)
  assert.deepEqual(await snapshot(a), await snapshot(b))
  assert.deepEqual(await a.listVersions('race'), [1, 2])
})

test('two registries on one embedded database file converge', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'vigil.db')
  const a = await createRegistry(t, await openEmbeddedLog(t, file))
  const b = await createRegistry(t, await openEmbeddedLog(t, file))
  await a.register('users-value', { schema: userV1 })
  assert.equal((await b.getVersion('users-value', 1)).id, 1)
  await b.register('users-value', { schema: userV2 })
  assert.deepEqual(await a.listVersions('users-value'), [1, 2])
  assert.deepEqual(await snapshot(a), await snapshot(b))
})

/** Makes the first two produce() calls wait for each other, so both writers decide on the same state. */
function raceProduces (log: MemoryLog): void {
  let arrived = 0
  let release: () => void = () => {}
  const barrier = new Promise<void>(resolve => { release = resolve })
  log.beforeProduce = async () => {
    arrived++
    if (arrived === 2) release()
    if (arrived <= 2) await barrier
  }
}

async function twoRegistries (t: TestContext): Promise<{ log: MemoryLog, a: LogSchemaRegistry, b: LogSchemaRegistry }> {
  const log = new MemoryLog()
  const a = await createRegistry(t, log.asLog())
  const b = await createRegistry(t, log.asLog())
  return { log, a, b }
}

test('race for the same version of a subject: first written wins, the loser retries as the next version', async (t) => {
  const { log, a, b } = await twoRegistries(t)
  await a.setConfig('s', 'NONE')
  raceProduces(log)
  const [x, y] = await Promise.all([a.register('s', { schema: schemaOf('X') }), b.register('s', { schema: schemaOf('Y') })])
  assert.deepEqual([x.id, y.id].sort(), [1, 2])
  assert.deepEqual(await a.listVersions('s'), [1, 2])
  assert.deepEqual(await snapshot(a), await snapshot(b))
  assert.equal(a.stats().pendingTombstones + b.stats().pendingTombstones, 0)

  // After compaction, a new process rebuilds exactly the same state: the losing record was tombstoned.
  log.compact('_schemas')
  const c = await createRegistry(t, log.asLog())
  assert.deepEqual(await snapshot(c), await snapshot(a))
})

test('race for the same new id from two subjects: ids stay unique', async (t) => {
  const { log, a, b } = await twoRegistries(t)
  raceProduces(log)
  const [x, y] = await Promise.all([a.register('s1', { schema: schemaOf('X') }), b.register('s2', { schema: schemaOf('Y') })])
  assert.deepEqual([x.id, y.id].sort(), [1, 2])
  assert.equal((await a.getSchemaById(x.id)).schema, schemaOf('X'))
  assert.equal((await b.getSchemaById(y.id)).schema, schemaOf('Y'))
  log.compact('_schemas')
  const c = await createRegistry(t, log.asLog())
  assert.deepEqual(await snapshot(c), await snapshot(a))
})

test('race to register the same schema: one version, one id, both callers get it', async (t) => {
  const { log, a, b } = await twoRegistries(t)
  raceProduces(log)
  const [x, y] = await Promise.all([a.register('s', { schema: userV1 }), b.register('s', { schema: userV1 })])
  assert.deepEqual(x, y)
  assert.deepEqual(await b.listVersions('s'), [1])
  log.compact('_schemas')
  const c = await createRegistry(t, log.asLog())
  assert.deepEqual(await snapshot(c), await snapshot(a))
})

test('a permanently deleted version stays deleted after compaction, and its id is not reused', async (t) => {
  const log = new MemoryLog()
  const a = await createRegistry(t, log.asLog())
  await a.register('s', { schema: userV1 })
  await a.register('s', { schema: userV2 })
  await a.deleteVersion('s', 2)
  await a.deleteVersion('s', 2, { permanent: true })
  log.compact('_schemas')
  const b = await createRegistry(t, log.asLog())
  assert.deepEqual(await b.listVersions('s', { deleted: true }), [1])
  assert.deepEqual(await b.register('t', { schema: schemaOf('T') }), { id: 3 })
})

test('records it cannot understand in _schemas are skipped, not fatal', async (t) => {
  const log = new MemoryLog()
  await log.admin.ensureTopic({ name: '_schemas' })
  await log.produce('_schemas', [
    { key: Buffer.from('not json'), value: Buffer.from('{}') },
    { key: Buffer.from('{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}'), value: Buffer.from('{"subject":"s"}') },
    { key: Buffer.from('{"keytype":"CONFIG","subject":null,"magic":0}'), value: Buffer.from('{"compatibilityLevel":"SIDEWAYS"}') },
    { key: null, value: Buffer.from('x') }
  ])
  const registry = await createRegistry(t, log.asLog())
  assert.equal(registry.stats().skippedRecords, 4)
  assert.deepEqual(await registry.register('s', { schema: userV1 }), { id: 1 })
})
