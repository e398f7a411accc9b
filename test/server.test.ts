/**
 * vigil serve's start-up, for topics declared in config.topics: a topic the cluster refuses is
 * named with the broker's reason in /readyz (against a real Kafka broker: replication 3 on one
 * broker), and the embedded log says once, at start, that it keeps one copy whatever is asked.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { PassThrough } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { validateConfig } from '../src/config/load.ts'
import { createLogger } from '../src/logger.ts'
import { startServer, type VigilServer } from '../src/server.ts'

const kafka = process.env.TEST_KAFKA

interface LogLine { level: number, msg: string, [key: string]: unknown }

async function serve (t: TestContext, config: Record<string, unknown>): Promise<{ server: VigilServer, lines: LogLine[] }> {
  const lines: LogLine[] = []
  const destination = new PassThrough()
  destination.on('data', (chunk: Buffer) => {
    for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line) as LogLine)
  })
  const validated = validateConfig({ ...config, server: { host: '127.0.0.1', port: 0 }, logging: { level: 'info' } })
  const server = await startServer(validated, { logger: createLogger(validated, destination) })
  t.after(() => server.close())
  return { server, lines }
}

async function readyz (server: VigilServer): Promise<{ status: number, body: string }> {
  const response = await fetch(`${server.url}/readyz`)
  return { status: response.status, body: await response.text() }
}

test('a config topic the Kafka cluster refuses (replication 3 on one broker) is named in /readyz with the reason', { skip: kafka === undefined ? 'TEST_KAFKA not set (npm test starts Kafka)' : false }, async (t) => {
  const refused = `refused-${randomUUID()}`
  const { server, lines } = await serve(t, { log: { url: `kafka://${kafka ?? ''}` }, topics: [{ name: refused, partitions: 1, replicationFactor: 3 }] })
  let answer = await readyz(server)
  for (let i = 0; i < 200 && !answer.body.includes(refused); i++) {
    await sleep(100)
    answer = await readyz(server)
  }
  assert.equal(answer.status, 503)
  assert.match(answer.body, new RegExp(`topic ${refused} \\(config\\.topics\\) cannot be created: VGL_LOG_TOPIC_INVALID: .*replication`, 'i'))
  assert.doesNotMatch(answer.body, /connecting to/)
  const logged = lines.find(l => l.level === 50 && typeof l.msg === 'string' && l.msg.includes(refused))
  assert.ok(logged, 'the refusal is logged as an error naming the topic')
  assert.equal(logged.topic, refused)
})

test('the embedded log warns once at start about replication factors it cannot keep, and describes the one copy it keeps', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-server-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { server, lines } = await serve(t, {
    log: { url: `embedded:${join(dir, 'vigil.db')}` },
    topics: [{ name: 'three-copies', replicationFactor: 3 }, { name: 'two-copies', replicationFactor: 2 }, { name: 'one-copy' }]
  })
  await server.ready
  const warnings = lines.filter(l => l.level === 40 && l.msg.includes('replicationFactor'))
  assert.equal(warnings.length, 1, JSON.stringify(warnings))
  assert.match(warnings[0]?.msg ?? '', /keeps one copy .*three-copies, two-copies/)
  assert.doesNotMatch(warnings[0]?.msg ?? '', /one-copy/)
  assert.equal((await server.log.admin.describeTopic('three-copies')).config.replicationFactor, 1)
  assert.equal((await readyz(server)).status, 200)
})

test('the embedded log says nothing about replication when no topic asks for more than one copy', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-server-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { server, lines } = await serve(t, { log: { url: `embedded:${join(dir, 'vigil.db')}` }, topics: [{ name: 'plain', replicationFactor: 1 }] })
  await server.ready
  assert.equal(lines.filter(l => l.msg.includes('replicationFactor')).length, 0)
})
