/**
 * kill -9 mid-stream: `vigil dispatcher` (a child process, configured only through the original
 * dispatcher's environment variables plus VIGIL_LOG_URL) is killed while it works through a
 * backlog, then started again. Nothing may be lost, and the one effect that is not idempotent
 * (creating an evidence) may not happen twice.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { randomUUID } from 'node:crypto'
import { backends, committedLag, waitFor } from '../pipeline/helpers.ts'
import { legacy, startSeededFake } from './setup.ts'

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

function startChild (env: Record<string, string>): { child: ChildProcess, output: () => string } {
  let output = ''
  const child = spawn(process.execPath, [main, 'dispatcher'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  return { child, output: () => output }
}

async function exited (child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
  return await new Promise(resolve => child.once('exit', (code) => resolve(code)))
}

for (const backend of backends) {
  describe(`kill -9 of vigil dispatcher on ${backend.name}`, { skip: backend.skip, timeout: 150_000 }, () => {
    test('after kill -9 mid-stream and a restart, nothing is lost and no evidence is created twice', async (t) => {
      const opened = await backend.open(t)
      const { fake } = await startSeededFake(t, { latencyMs: 3 })
      const topic = `observation-${randomUUID()}`
      const group = `g-${topic}`
      await opened.log.admin.createTopic({ name: topic, partitions: 3 })
      const keys = Array.from({ length: 12 }, (_, i) => `K-${i}`)
      const controls = new Map(keys.map(k => [k, fake.addAppliedControl({ name: `control ${k}`, ref_id: k }).id]))
      const perKey = 20
      const records = []
      for (let seq = 0; seq < perKey; seq++) {
        for (const key of keys) {
          records.push(seq % 4 === 3
            ? legacy({ message_type: 'upload_attachment', selector: {}, values: { name: `evidence ${key} #${seq}`, file_name: `e-${key}-${seq}.txt`, file_content: Buffer.from(`${key}/${seq}`).toString('base64') } }, key)
            : legacy({ message_type: 'update_applied_control', selector: { ref_id: key }, values: { observation: `seq-${seq}` } }, key))
        }
      }
      await opened.log.produce(topic, records)
      const uploads = records.length / 4
      const env = {
        API_URL: `${fake.url}/`,
        USER_TOKEN: fake.token,
        VIGIL_LOG_URL: opened.url,
        VIGIL_DISPATCHER_TOPIC: topic,
        VIGIL_DISPATCHER_GROUP: group,
        VIGIL_DISPATCHER_CONCURRENCY: '4',
        VIGIL_SERVER_PORT: '0',
        VIGIL_LOGGING_LEVEL: 'warn',
        VIGIL_PIPELINES_COMMIT_INTERVAL_MS: '50',
        VIGIL_LOG_EMBEDDED_SESSION_TIMEOUT_MS: '1000',
        VIGIL_LOG_KAFKA_SESSION_TIMEOUT_MS: '6000',
        VIGIL_SCHEMA_REGISTRY_REGISTER_BUILTIN_SCHEMAS: 'false'
      }

      const first = startChild(env)
      t.after(() => { first.child.kill('SIGKILL') })
      await waitFor(() => fake.mutations.length >= records.length / 3 || first.child.exitCode !== null, 'the first run to get a third of the way', 60_000)
      assert.equal(first.child.exitCode, null, `the first run died early:\n${first.output()}`)
      first.child.kill('SIGKILL')
      await exited(first.child)
      const beforeRestart = fake.mutations.length
      assert.ok(beforeRestart < records.length, 'killed mid-stream')

      const second = startChild(env)
      t.after(async () => {
        if (second.child.exitCode === null) {
          second.child.kill('SIGTERM')
          await exited(second.child)
        }
      })
      await waitFor(async () => second.child.exitCode !== null || await committedLag(opened.log, group, topic) === 0, 'the second run to finish the backlog', 90_000)
      assert.equal(second.child.exitCode, null, `the second run died:\n${second.output()}`)
      second.child.kill('SIGTERM')
      assert.equal(await exited(second.child), 0, `graceful stop:\n${second.output()}`)

      // Nothing lost: every update reached its control, and the last one wins.
      for (const key of keys) {
        const seen = fake.mutationsOf(controls.get(key) as string).map(m => Number((m.body as { observation: string }).observation.slice(4)))
        const expected = Array.from({ length: perKey }, (_, i) => i).filter(i => i % 4 !== 3)
        assert.deepEqual([...new Set(seen)].sort((a, b) => a - b), expected, `${key}: every update applied`)
        assert.equal(seen.at(-1), expected.at(-1), `${key}: the last update is the last applied`)
        // In order, except that the restart may replay a suffix once.
        const drops = seen.filter((v, i) => i > 0 && v < (seen[i - 1] as number)).length
        assert.ok(drops <= 1, `${key}: per-key order (at most one replay): ${seen.join(',')}`)
      }
      // Not idempotent in the original (POST /evidences/): exactly one evidence per message.
      const evidences = [...fake.evidences.values()]
      assert.equal(evidences.length, uploads)
      assert.equal(new Set(evidences.map(e => e.name)).size, uploads)
      assert.equal(fake.mutations.filter(m => m.kind === 'create').length, uploads, 'no evidence created twice')
      for (const evidence of evidences) {
        const [, key, seq] = /^evidence (K-\d+) #(\d+)$/.exec(evidence.name) ?? []
        assert.equal(evidence.revisions.length, 1)
        assert.equal(evidence.revisions[0]?.attachment?.bytes.toString(), `${key ?? ''}/${seq ?? ''}`)
      }
      assert.doesNotMatch(first.output() + second.output(), new RegExp(fake.token), 'the token is never logged')
    })
  })
}
