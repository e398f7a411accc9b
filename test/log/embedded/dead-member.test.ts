/**
 * Issue 17 §3: a group member whose process on this host is gone (kill -9) is expired at the
 * next sync, not after its session timeout, so a restarted server's consumers own their
 * partitions at once. Members of other hosts, and of a process that still runs, keep theirs
 * until their heartbeat stops.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../../../src/log/embedded/store.ts'

const topicConfig = { partitions: 4, replicationFactor: 1, retentionMs: -1, retentionBytes: -1, cleanupPolicy: 'delete' as const, maxMessageBytes: 1_048_576 }
const hourMs = 3_600_000

/** A running process standing for a server, and a way to kill -9 it. */
async function serverProcess (): Promise<{ pid: number, kill9: () => Promise<void> }> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  await once(child, 'spawn')
  return {
    pid: child.pid as number,
    kill9: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
  }
}

async function openStore (t: { after: (fn: () => unknown) => void }): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-dead-member-'))
  const store = new Store(join(dir, 'log.db'), 5000)
  t.after(async () => { store.close(); await rm(dir, { recursive: true, force: true }) })
  store.createTopic('audit-events', topicConfig, Date.now())
  return store
}

test('a member of a killed process on this host is expired at the next sync: the new member claims every partition at once', async (t) => {
  const store = await openStore(t)
  const server = await serverProcess()
  t.after(server.kill9)
  const dead = `vigil-${hostname()}-${server.pid}`
  // The server joined with an hour-long session while it ran, then was killed: only its missing
  // process can expire it now.
  assert.equal(store.syncMember('archiver', `${dead}-a`, dead, ['audit-events'], hourMs).owned.length, 4)
  await server.kill9()
  const self = `vigil-${hostname()}-${process.pid}`
  const after = store.syncMember('archiver', `${self}-b`, self, ['audit-events'], hourMs)
  assert.equal(after.target.length, 4)
  assert.equal(after.owned.length, 4, 'the dead member\'s partitions are free at once')
})

test('a member of a running process, of another host, or with an id of another form keeps its partitions until its session times out', async (t) => {
  const store = await openStore(t)
  const parent = `vigil-${hostname()}-${process.ppid}` // runs: it started this test
  const otherHost = `vigil-not-${hostname()}-1`
  const foreign = 'rdkafka-client'
  for (const [i, clientId] of [parent, otherHost, foreign].entries()) store.syncMember('archiver', `${clientId}-${i}`, clientId, ['audit-events'], hourMs)
  assert.equal(store.syncMember('archiver', `${parent}-0`, parent, ['audit-events'], hourMs).owned.length, 4)
  const self = `vigil-${hostname()}-${process.pid}`
  const result = store.syncMember('archiver', `${self}-x`, self, ['audit-events'], hourMs)
  // Four members share four partitions, but the first live one still owns all four (it has not
  // released any): nothing is free for the newcomer.
  assert.equal(result.target.length, 1)
  assert.equal(result.owned.length, 0)
  assert.equal(store.syncMember('archiver', `${parent}-0`, parent, ['audit-events'], hourMs).owned.length, 4)
})
