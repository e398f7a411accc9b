/**
 * The console's server side against a real `vigil serve`: the assets and the `/` redirect, and
 * the read-only log API with its unhappy paths (unknown topic, bad query values, no token).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startConsoleServer } from './helpers.ts'

test('console assets, the log API and its errors', async (t) => {
  const s = await startConsoleServer(t)
  const { call } = s

  const root = await call('GET', '/')
  assert.equal(root.status, 302)
  assert.equal(root.headers.get('location'), '/console/')
  // The assets hold no data: they answer without a token.
  const page = await fetch(`${s.url}/console/`)
  assert.equal(page.status, 200)
  assert.match(page.headers.get('content-type') ?? '', /text\/html/)
  assert.match(await page.text(), /<script type="module" src="\/console\/app.js">/)
  const js = await fetch(`${s.url}/console/app.js`)
  assert.match(js.headers.get('content-type') ?? '', /javascript/)
  assert.ok((await js.arrayBuffer()).byteLength > 1000)
  const missing = await call('GET', '/console/nope.js')
  assert.equal(missing.status, 404)
  assert.equal(missing.body.code, 'VGL_HTTP_NOT_FOUND')

  // The API needs the token.
  const anonymous = await fetch(`${s.url}/v1/log/topics`)
  assert.equal(anonymous.status, 401)

  await s.server.log.admin.createTopic({ name: 'console-orders', partitions: 2 })
  await s.server.log.produce('console-orders', [
    { key: Buffer.from('a'), value: Buffer.from(JSON.stringify({ n: 1 })), partition: 0 },
    { key: null, value: Buffer.from('plain text'), partition: 1 },
    { key: null, value: Buffer.from([0xff, 0xfe, 0x00, 0x01]), partition: 1 }
  ])

  const info = await call('GET', '/v1/log')
  assert.equal(info.body.kind, 'embedded')
  const topics = await call('GET', '/v1/log/topics')
  const orders = topics.body.topics.find((x: any) => x.name === 'console-orders')
  assert.deepEqual({ partitions: orders.partitions, records: orders.records, cleanupPolicy: orders.cleanupPolicy }, { partitions: 2, records: 3, cleanupPolicy: 'delete' })

  const described = await call('GET', '/v1/log/topics/console-orders')
  assert.deepEqual(described.body.partitions.map((p: any) => p.highOffset), [1, 2])

  const sample = await call('GET', '/v1/log/topics/console-orders/records?limit=5')
  assert.equal(sample.status, 200)
  const formats = sample.body.records.map((r: any) => `${r.partition}:${r.offset}:${r.value.format}`).sort()
  assert.deepEqual(formats, ['0:0:json', '1:0:text', '1:1:base64'])
  assert.deepEqual(sample.body.records.find((r: any) => r.value.format === 'json').value.value, { n: 1 })
  const one = await call('GET', '/v1/log/topics/console-orders/records?partition=1&limit=1')
  assert.deepEqual(one.body.records.map((r: any) => r.offset), [1])

  // Unhappy paths: each a 4xx naming what is wrong, never a 500.
  const unknown = await call('GET', '/v1/log/topics/no-such-topic')
  assert.equal(unknown.status, 404)
  assert.equal(unknown.body.code, 'VGL_LOG_TOPIC_NOT_FOUND')
  const unknownSample = await call('GET', '/v1/log/topics/no-such-topic/records')
  assert.equal(unknownSample.status, 404)
  const badLimit = await call('GET', '/v1/log/topics/console-orders/records?limit=lots')
  assert.equal(badLimit.status, 400)
  assert.match(JSON.stringify(badLimit.body), /limit/)
  const tooMany = await call('GET', '/v1/log/topics/console-orders/records?limit=100000')
  assert.equal(tooMany.status, 400)
  const badPartition = await call('GET', '/v1/log/topics/console-orders/records?partition=9')
  assert.equal(badPartition.status, 400)
  assert.deepEqual(badPartition.body.fields, ['partition'])
  const badName = await call('GET', '/v1/log/topics/bad%20name')
  assert.equal(badName.status, 400)

  const groups = await call('GET', '/v1/log/groups')
  assert.equal(groups.status, 200)
  assert.ok(Array.isArray(groups.body.groups))
  const someGroup = groups.body.groups[0]
  if (someGroup !== undefined) {
    const group = await call('GET', `/v1/log/groups/${encodeURIComponent(someGroup.group)}`)
    assert.equal(group.status, 200)
    assert.ok(Array.isArray(group.body.offsets))
  }

  const config = await call('GET', '/v1/console/config')
  assert.deepEqual(config.body, { registryPrefix: '/registry' })

  // OpenAPI: the log routes are documented; the assets are hidden.
  const openapi = await call('GET', '/openapi.json')
  assert.ok(openapi.body.paths['/v1/log/topics/{topic}/records'])
  assert.equal(openapi.body.paths['/console/'], undefined)
  assert.equal(openapi.body.paths['/'], undefined)
})
