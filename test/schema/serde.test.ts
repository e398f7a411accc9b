/**
 * The serde: Confluent wire format, schema cache by id, logical types, JSON as a second format,
 * coded errors (unknown id, bad magic byte, truncated body, schema/record mismatch), batch decoding
 * with errors in place, and subject name strategies.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { isVigilError } from '../../src/errors.ts'
import { createSerde, looksLikeConfluent, type SerdeRegistry } from '../../src/schema/serde.ts'
import { subjectName } from '../../src/schema/subject-strategy.ts'
import { frame, readSchemaId } from '../../src/schema/wire-format.ts'
import { MemoryLog } from './helpers/memory-log.ts'
import { createRegistry } from './helpers/registry.ts'

const logicalSchema = JSON.stringify({
  type: 'record',
  name: 'Logical',
  namespace: 'io.vigil.test',
  fields: [
    { name: 'id', type: { type: 'string', logicalType: 'uuid' } },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 9, scale: 2 } },
    { name: 'fixedAmount', type: { type: 'fixed', name: 'Money', size: 8, logicalType: 'decimal', precision: 12, scale: 3 } },
    { name: 'blob', type: 'bytes', default: '' },
    { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['OPEN', 'CLOSED'] } },
    { name: 'note', type: ['null', 'string'], default: null }
  ]
})

async function setup (t: TestContext) {
  const registry = await createRegistry(t, new MemoryLog().asLog())
  const serde = createSerde({ registry })
  return { registry, serde }
}

test('logical types: uuid, timestamp-millis, date and decimal encode from plain JSON and decode to natural values', async (t) => {
  const { registry, serde } = await setup(t)
  const { id } = await registry.register('logical-value', { schema: logicalSchema })
  const uuid = randomUUID()
  const json = { id: uuid, at: '2026-01-01T00:00:00.123Z', day: '2026-02-28', amount: '-1234.5', fixedAmount: 42.125, blob: Buffer.from('hi').toString('base64'), status: 'OPEN', note: null }
  const record = await serde.encode('logical-value', json)
  assert.ok(looksLikeConfluent(record))
  assert.equal(readSchemaId(record), id)

  const decoded = await serde.decode(record)
  const value = decoded.value as Record<string, unknown>
  assert.equal(decoded.schemaType, 'AVRO')
  assert.equal(decoded.subject, 'logical-value')
  assert.equal(value.id, uuid)
  assert.ok(value.at instanceof Date)
  assert.equal((value.at as Date).toISOString(), '2026-01-01T00:00:00.123Z')
  assert.equal(value.day, '2026-02-28')
  assert.equal(value.amount, '-1234.50')
  assert.equal(value.fixedAmount, '42.125')
  assert.deepEqual(value.blob, Buffer.from('hi'))

  // JSON out, and back in: the same bytes.
  const asJson = (await serde.decodeToJson(record)).value as Record<string, unknown>
  assert.deepEqual(asJson, { ...json, amount: '-1234.50', fixedAmount: '42.125' })
  assert.deepEqual(await serde.encode('logical-value', asJson), record)
  // Dates and epoch numbers are accepted too.
  assert.deepEqual(await serde.encode('logical-value', { ...asJson, at: new Date(asJson.at as string), day: 20512 }), record)
})

test('a record that does not match its schema is refused with VGL_SCHEMA_SERDE_MISMATCH naming the field', async (t) => {
  const { registry, serde } = await setup(t)
  await registry.register('logical-value', { schema: logicalSchema })
  const good = { id: randomUUID(), at: 0, day: 0, amount: '1', fixedAmount: '1', status: 'OPEN', note: null }
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...good, id: 'not-a-uuid' }, /id: "not-a-uuid" is not a valid uuid/],
    [{ ...good, at: 'yesterday' }, /at: "yesterday"/],
    [{ ...good, day: '2026-02-30' }, /day:/],
    [{ ...good, amount: '1.234' }, /amount:/],
    [{ ...good, amount: '12345678.9' }, /amount:/],
    [{ ...good, status: 'DONE' }, /status: "DONE" is not one of the symbols OPEN, CLOSED/],
    [{ ...good, note: 5 }, /note: 5/],
    [{ ...good, status: undefined }, /status: missing/]
  ]
  for (const [value, message] of cases) {
    await assert.rejects(serde.encode('logical-value', value), (error: unknown) => {
      assert.ok(isVigilError(error, 'VGL_SCHEMA_SERDE_MISMATCH'), String(error))
      assert.match(error.message, message)
      return true
    })
  }
  await assert.rejects(serde.encode('nothing-value', good), { code: 'VGL_SCHEMA_SUBJECT_NO_SCHEMA' })
})

test('decoding errors are distinct: unknown id, wrong magic byte, truncated body, mismatch', async (t) => {
  const { registry, serde } = await setup(t)
  const { id } = await registry.register('logical-value', { schema: logicalSchema })
  const record = await serde.encode('logical-value', { id: randomUUID(), at: 1, day: 1, amount: '1.00', fixedAmount: '0', status: 'CLOSED', note: 'n' })

  await assert.rejects(serde.decode(frame(999, Buffer.from([2, 4]))), { code: 'VGL_SCHEMA_SERDE_UNKNOWN_ID' })
  await assert.rejects(serde.decode(Buffer.from('{"json":true}')), { code: 'VGL_SCHEMA_SERDE_BAD_MAGIC' })
  await assert.rejects(serde.decode(Buffer.from([0, 0, 0])), { code: 'VGL_SCHEMA_SERDE_TRUNCATED' })
  await assert.rejects(serde.decode(Buffer.alloc(0)), { code: 'VGL_SCHEMA_SERDE_TRUNCATED' })
  await assert.rejects(serde.decode(record.subarray(0, record.length - 3)), { code: 'VGL_SCHEMA_SERDE_TRUNCATED' })
  await assert.rejects(serde.decode(Buffer.concat([record, Buffer.from([1, 2])])), { code: 'VGL_SCHEMA_SERDE_MISMATCH' })
  const badEnum = Buffer.from(record)
  badEnum[badEnum.length - 1 - 2] = 0x7e // the enum index byte, before the union branch and 'n'
  await assert.rejects(serde.decode(badEnum), (error: unknown) => isVigilError(error) && ['VGL_SCHEMA_SERDE_MISMATCH', 'VGL_SCHEMA_SERDE_TRUNCATED'].includes(error.code))

  // Batches keep errors in place, with the index.
  const results = await serde.decodeMany([record, Buffer.from('x'), frame(999, Buffer.alloc(1)), record])
  assert.equal((results[0] as { schemaId: number }).schemaId, id)
  assert.ok(isVigilError(results[1], 'VGL_SCHEMA_SERDE_BAD_MAGIC'))
  assert.equal((results[1] as unknown as { context: { index: number } }).context.index, 1)
  assert.ok(isVigilError(results[2], 'VGL_SCHEMA_SERDE_UNKNOWN_ID'))
  assert.equal((results[3] as { schemaId: number }).schemaId, id)
})

test('schemas are fetched once per id, then cached; unknown ids are not asked for again at once', async () => {
  const schema = JSON.stringify({ type: 'record', name: 'C', fields: [{ name: 'a', type: 'int' }] })
  const calls = { byId: 0, latest: 0 }
  const registry: SerdeRegistry = {
    async getSchemaById (id: number) {
      calls.byId++
      if (id !== 7) throw Object.assign(new (await import('../../src/errors.ts')).VigilError('VGL_SCHEMA_NOT_FOUND', `Schema ${id} not found`))
      return { schema, schemaType: 'AVRO' }
    },
    async getVersion () {
      calls.latest++
      return { subject: 'c-value', version: 1, id: 7, schema, schemaType: 'AVRO' }
    }
  }
  const serde = createSerde({ registry, latestCacheTtlMs: 60_000 })
  const encoder = await serde.encoderFor('c-value')
  const records = Array.from({ length: 100 }, (_, i) => encoder.encode({ a: i }))
  const decoded = await serde.decodeMany(records)
  assert.deepEqual(decoded.map(d => (d as { value: { a: number } }).value.a), Array.from({ length: 100 }, (_, i) => i))
  await serde.encode('c-value', { a: 1 })
  assert.deepEqual(calls, { byId: 1, latest: 1 })
  await assert.rejects(serde.decode(frame(8, Buffer.from([2]))), { code: 'VGL_SCHEMA_SERDE_UNKNOWN_ID' })
  await assert.rejects(serde.decode(frame(8, Buffer.from([2]))), { code: 'VGL_SCHEMA_SERDE_UNKNOWN_ID' })
  assert.equal(calls.byId, 2)
  assert.equal(serde.decodeCached(records[3] as Buffer)?.schemaId, 7)
  assert.equal(serde.decodeCached(frame(9, Buffer.alloc(1))), undefined)
})

test('records larger than the scratch buffer encode and decode', async (t) => {
  const { registry, serde } = await setup(t)
  await registry.register('big-value', { schema: JSON.stringify({ type: 'record', name: 'Big', fields: [{ name: 'text', type: 'string' }] }) })
  const text = 'x'.repeat(300_000)
  const record = await serde.encode('big-value', { text })
  assert.equal(record.length > 300_000, true)
  assert.equal(((await serde.decode(record)).value as { text: string }).text, text)
  const small = await serde.encode('big-value', { text: 'y' })
  assert.equal(((await serde.decode(small)).value as { text: string }).text, 'y')
})

test('a new latest version is picked up after latestCacheTtlMs', async (t) => {
  const registry = await createRegistry(t, new MemoryLog().asLog())
  const serde = createSerde({ registry, latestCacheTtlMs: 0 })
  await registry.register('s', { schema: JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'int' }] }) })
  assert.equal((await serde.encoderFor('s')).schemaId, 1)
  await registry.register('s', { schema: JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'int' }, { name: 'b', type: 'int', default: 0 }] }) })
  assert.equal((await serde.encoderFor('s')).schemaId, 2)
})

test('subject name strategies name subjects as Confluent\'s serializers do', () => {
  assert.equal(subjectName('TopicNameStrategy', { topic: 'observation' }), 'observation-value')
  assert.equal(subjectName('TopicNameStrategy', { topic: 'observation', isKey: true }), 'observation-key')
  assert.equal(subjectName('RecordNameStrategy', { topic: 'observation', recordName: 'io.vigil.ciso.UpdateAppliedControlStatus' }), 'io.vigil.ciso.UpdateAppliedControlStatus')
  assert.equal(subjectName('TopicRecordNameStrategy', { topic: 'observation', recordName: 'io.vigil.ciso.UpdateAppliedControlStatus' }), 'observation-io.vigil.ciso.UpdateAppliedControlStatus')
  assert.throws(() => subjectName('RecordNameStrategy', { topic: 'observation' }), { code: 'VGL_SCHEMA_SUBJECT_INVALID' })
  assert.throws(() => subjectName('Nope' as 'RecordNameStrategy', { topic: 'observation' }), { code: 'VGL_SCHEMA_SUBJECT_INVALID' })
})

test('the wire format: magic byte 0, 4-byte big-endian id, body', () => {
  const record = frame(0x01020304, Buffer.from([9, 8]))
  assert.deepEqual([...record], [0, 1, 2, 3, 4, 9, 8])
  assert.equal(readSchemaId(record), 0x01020304)
  assert.ok(looksLikeConfluent(record))
  assert.ok(!looksLikeConfluent(Buffer.from('{"a":1}')))
  assert.ok(!looksLikeConfluent(Buffer.from([0, 0, 1])))
  assert.ok(!looksLikeConfluent(null))
})
