/**
 * CAIPE behaviour 10, the producer side: flush every 1 s or at 100 events, a 2 s timeout (1 s for
 * single-event posts), warn and drop on failure without throwing. Vigil adds an opt-in durable
 * spool that keeps what could not be delivered and sends it once the service is back.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createAuditClient, sendAuditEvent } from '../../src/audit/client.ts'
import { tempDir, waitFor, type TestContext } from './helpers.ts'

interface Fake { url: string, server: Server, batches: unknown[][], mode: 'ok' | 'hang' | 'fail' }

async function fakeService (t: TestContext): Promise<Fake> {
  const fake: Fake = { url: '', server: createServer(), batches: [], mode: 'ok' }
  const hanging = new Set<IncomingMessage>()
  fake.server.on('request', (request, response) => {
    let body = ''
    request.on('data', c => { body += String(c) })
    request.on('end', () => {
      if (fake.mode === 'hang') { hanging.add(request); return }
      if (fake.mode === 'fail') { response.writeHead(503, { 'content-type': 'application/json' }).end('{"detail":"audit queue full"}'); return }
      const parsed = JSON.parse(body)
      fake.batches.push(Array.isArray(parsed) ? parsed : [parsed])
      response.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: 1, queued: 0 }))
    })
  })
  await new Promise<void>(resolve => fake.server.listen(0, '127.0.0.1', resolve))
  const address = fake.server.address()
  fake.url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  t.after(() => new Promise(resolve => { fake.server.closeAllConnections(); fake.server.close(resolve) }))
  return fake
}

test('flushes at 100 events without waiting for the timer, and on the timer otherwise', async (t) => {
  const fake = await fakeService(t)
  const client = createAuditClient({ url: fake.url, flushIntervalMs: 60_000 })
  t.after(() => client.close())
  for (let i = 0; i < 100; i++) assert.equal(client.record({ type: 'x', i }), true)
  await waitFor(() => fake.batches.length === 1, 5000, 'a flush at 100 events')
  assert.equal(fake.batches[0]?.length, 100)
  const timed = createAuditClient({ url: fake.url, flushIntervalMs: 100 })
  t.after(() => timed.close())
  timed.record({ type: 'y' })
  await waitFor(() => fake.batches.length === 2, 5000, 'a flush on the timer')
})

test('a request that hangs times out (2 s by default); the batch is dropped with a warning, never thrown', async (t) => {
  const fake = await fakeService(t)
  fake.mode = 'hang'
  const warnings: Array<[string, Record<string, unknown>]> = []
  const client = createAuditClient({ url: fake.url, timeoutMs: 300, flushIntervalMs: 60_000, warn: (m, d) => warnings.push([m, d]) })
  client.record({ type: 'a' })
  client.record({ type: 'b' })
  await client.flush()
  assert.equal(client.stats.dropped, 2)
  assert.equal(client.stats.failedRequests, 1)
  assert.match(warnings[0]?.[0] ?? '', /dropped/)
  assert.match(String(warnings[0]?.[1].problem), /timed out after 300 ms/)
  await client.close()
  const defaults = createAuditClient({ url: fake.url })
  const started = Date.now()
  defaults.record({ type: 'c' })
  await defaults.close()
  const elapsed = Date.now() - started
  assert.ok(elapsed >= 1900 && elapsed < 4000, `default timeout is 2 s (took ${elapsed} ms)`)
})

test('non-2xx and unreachable services: warn, count the drops, never throw; the buffer is bounded', async (t) => {
  const fake = await fakeService(t)
  fake.mode = 'fail'
  const warnings: string[] = []
  const client = createAuditClient({ url: fake.url, flushIntervalMs: 60_000, maxBufferEvents: 150, warn: m => warnings.push(m) })
  for (let i = 0; i < 50; i++) client.record({ i })
  await client.flush()
  assert.equal(client.stats.dropped, 50)
  const unreachable = createAuditClient({ url: 'http://127.0.0.1:9', flushIntervalMs: 60_000, maxBufferEvents: 10, warn: m => warnings.push(m) })
  let refused = 0
  for (let i = 0; i < 25; i++) if (!unreachable.record({ i })) refused++
  assert.ok(refused > 0, 'the bounded buffer refuses what does not fit')
  await unreachable.close()
  assert.equal(unreachable.stats.dropped, 25)
  assert.ok(warnings.length >= 2)
  await client.close()
})

test('single-event posts time out after 1 s, warn and return false', async (t) => {
  const fake = await fakeService(t)
  fake.mode = 'hang'
  const warnings: string[] = []
  const started = Date.now()
  assert.equal(await sendAuditEvent({ type: 'one' }, { url: fake.url, warn: m => warnings.push(m) }), false)
  assert.ok(Date.now() - started < 3000)
  assert.equal(warnings.length, 1)
  fake.mode = 'ok'
  assert.equal(await sendAuditEvent({ type: 'one' }, { url: fake.url }), true)
})

test('the opt-in spool keeps what could not be delivered, across a client restart, and delivers it once the service is back', async (t) => {
  const fake = await fakeService(t)
  const spoolDir = join(await tempDir(t), 'spool')
  fake.mode = 'fail'
  const first = createAuditClient({ url: fake.url, flushIntervalMs: 60_000, spoolDir, warn: () => {} })
  for (let i = 0; i < 120; i++) first.record({ type: 'spooled', i })
  await first.close()
  assert.equal(first.stats.dropped, 0)
  assert.equal(first.stats.spooled, 120)
  assert.ok((await readdir(spoolDir)).length >= 1)
  // A new process (same spool) once the service answers again.
  fake.mode = 'ok'
  const second = createAuditClient({ url: fake.url, flushIntervalMs: 50, spoolDir, warn: () => {} })
  t.after(() => second.close())
  await waitFor(async () => (await readdir(spoolDir)).length === 0, 10_000, 'the spool to drain')
  const delivered = fake.batches.flat() as Array<{ i: number, audit_event_id: string }>
  assert.deepEqual(delivered.map(e => e.i).sort((a, b) => a - b), Array.from({ length: 120 }, (_, i) => i))
  assert.ok(delivered.every(e => typeof e.audit_event_id === 'string'), 'ids are set on the client, so a resend is recognisable')
})
