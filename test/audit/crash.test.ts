/**
 * Crash safety: `vigil serve` is killed with SIGKILL during sustained ingestion, restarted, and
 * killed again, several times. Every event that got a 202 must be in the store exactly once, and
 * the store must still verify (the hash chain continues across the crashes).
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLocalStore } from '../../src/audit/local-store.ts'
import { createS3Store } from '../../src/audit/s3-store.ts'
import type { ArchiveStore } from '../../src/audit/store.ts'
import { verifyStore } from '../../src/audit/verify.ts'
import { createBucket, sharedS3, stopSharedS3, tempDir, waitFor, type Backend } from './helpers.ts'

after(stopSharedS3)

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
const rounds = 4

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

async function storedIds (store: ArchiveStore): Promise<string[]> {
  const ids: string[] = []
  for (const file of await store.listAllFiles()) {
    for (const line of (await store.readFile(file)).lines) ids.push(String(line.record?.audit_event_id))
  }
  return ids
}

for (const backend of ['local', 's3'] as Backend[]) {
  test(`[${backend}] kill -9 during sustained ingestion, restart, repeat: every acknowledged event is stored exactly once`, { timeout: 150_000 }, async (t) => {
    const dir = await tempDir(t)
    const port = await freePort()
    const audit: Record<string, unknown> = { backend, flushIntervalMs: 50, flushBatchSize: 300, partitions: 2, local: { path: join(dir, 'audit') }, checkpoint: { keyFile: join(dir, 'key.pem'), intervalMs: 1000 } }
    let store: ArchiveStore
    if (backend === 's3') {
      const s3 = await sharedS3()
      const bucket = await createBucket(s3)
      const s3Config = { bucket, endpointUrl: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: s3.region, prefix: 'audit', forcePathStyle: true }
      audit.s3 = s3Config
      store = createS3Store(s3Config)
    } else {
      store = createLocalStore({ path: join(dir, 'audit'), gzip: true, gzipLevel: 1, diskWarningPercent: 85, diskCriticalPercent: 95 })
    }
    t.after(() => store.close())
    const configFile = join(dir, 'config.json')
    await writeFile(configFile, JSON.stringify({ log: { url: `embedded:${join(dir, 'vigil.db')}` }, server: { port }, logging: { level: 'warn' }, audit }))
    const url = `http://127.0.0.1:${port}`
    let child: ChildProcess | undefined
    let exited: Promise<unknown> = Promise.resolve()
    t.after(() => { child?.kill('SIGKILL') })
    const env = { ...process.env }
    delete env.VIGIL_CONFIG

    const startServe = async (): Promise<void> => {
      child = spawn(process.execPath, [main, '--config', configFile, 'serve'], { stdio: ['ignore', 'ignore', 'inherit'], env })
      const current = child
      exited = new Promise(resolve => current.once('exit', resolve))
      await waitFor(async () => {
        try {
          return (await fetch(`${url}/v1/audit/readyz`)).status === 200
        } catch { return false }
      }, 30_000, 'vigil serve to be ready')
    }

    const acked = new Set<string>()
    let seq = 0
    for (let round = 0; round < rounds; round++) {
      await startServe()
      const stopAt = Date.now() + 400 + Math.floor(Math.random() * 800)
      // Four concurrent producers, batches of 50, until the kill.
      const state = { killed: false }
      const producers = Array.from({ length: 4 }, async () => {
        while (!state.killed) {
          const batch = Array.from({ length: 50 }, () => ({ audit_event_id: `ev-${seq++}`, type: 'crash', round }))
          try {
            const response = await fetch(`${url}/v1/audit/events`, { method: 'POST', body: JSON.stringify(batch), headers: { 'content-type': 'application/json' } })
            await response.arrayBuffer()
            if (response.status === 202) for (const e of batch) acked.add(e.audit_event_id)
          } catch {
            // The server died mid-request: not acknowledged, so not counted.
          }
        }
      })
      await new Promise(resolve => setTimeout(resolve, Math.max(0, stopAt - Date.now())))
      child?.kill('SIGKILL')
      state.killed = true
      await Promise.all(producers)
      await exited
    }
    // Last start: let the archiver drain what the log holds, then stop cleanly.
    await startServe()
    await waitFor(async () => {
      const status = await (await fetch(`${url}/v1/audit/status`)).json() as { queue_size: number }
      return status.queue_size === 0
    }, 60_000, 'the backlog to drain')
    await waitFor(async () => {
      const ids = new Set(await storedIds(store))
      return [...acked].every(id => ids.has(id))
    }, 30_000, 'every acknowledged event to be archived')
    child?.kill('SIGTERM')
    await exited

    const ids = await storedIds(store)
    const counts = new Map<string, number>()
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1)
    const missing = [...acked].filter(id => !counts.has(id))
    const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id)
    assert.ok(acked.size > 0)
    assert.deepEqual(missing, [], `${missing.length} acknowledged events are missing`)
    assert.deepEqual(twice, [], `${twice.length} events are stored twice`)
    const report = await verifyStore(store, { topic: 'audit-events' })
    assert.deepEqual(report.findings, [])
    t.diagnostic(`${backend}: ${acked.size} acknowledged events over ${rounds} kill -9 rounds, ${ids.length} stored, none missing, none twice`)
  })
}
