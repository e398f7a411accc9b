/**
 * Background threads at SCHED_IDLE (thread-priority.ts): the archiver's encoder threads and V8's
 * helper threads, read back from /proc; and the nice fallback where chrt is missing.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { EncodePool } from '../src/audit/encode-pool.ts'
import { idleThread, idleV8Helpers, v8HelperThreads } from '../src/thread-priority.ts'

const schedIdle = 5

/** Policy and nice value of a thread of this process (fields 41 and 19 of its stat line). */
function schedOf (tid: number): { policy: number, nice: number } {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { policy: Number(fields[38]), nice: Number(fields[16]) }
}

function idleThreads (): number[] {
  return readdirSync('/proc/self/task').map(Number).filter(tid => {
    try {
      return schedOf(tid).policy === schedIdle
    } catch {
      return false
    }
  })
}

const skip = ((): string | false => {
  if (process.platform !== 'linux') return 'Linux only'
  try {
    execFileSync('chrt', ['--version'], { stdio: 'ignore' })
    return false
  } catch {
    return 'chrt (util-linux) is not installed'
  }
})()

/** A thread that reports its kernel id and waits until terminated. */
async function spareThread (): Promise<{ tid: number, stop: () => Promise<number> }> {
  const worker = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.postMessage(Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop())); setInterval(() => {}, 1000)", { eval: true })
  const tid = await new Promise<number>(resolve => worker.once('message', resolve))
  return { tid, stop: () => worker.terminate() }
}

test('the archiver\'s encoder threads run at SCHED_IDLE', { skip }, async () => {
  const before = new Set(idleThreads())
  const pool = new EncodePool(2)
  try {
    for (let i = 0; i < 200 && idleThreads().filter(tid => !before.has(tid)).length < 2; i++) await new Promise(resolve => setTimeout(resolve, 25))
    assert.equal(idleThreads().filter(tid => !before.has(tid)).length, 2)
  } finally {
    await pool.close()
  }
})

test('idleV8Helpers puts every V8Worker thread of the process at SCHED_IDLE', { skip }, async () => {
  const helpers = await v8HelperThreads()
  assert.ok(helpers.length > 0, 'Node runs V8 helper threads named V8Worker')
  assert.equal(await idleV8Helpers(), helpers.length)
  for (const tid of helpers) assert.equal(schedOf(tid).policy, schedIdle, `thread ${tid}`)
})

test('without chrt, a thread gets the fallback nice value and keeps its policy', { skip: process.platform === 'linux' ? false : 'Linux only' }, async () => {
  const thread = await spareThread()
  const path = process.env.PATH
  const empty = await mkdtemp(join(tmpdir(), 'vigil-no-chrt-'))
  process.env.PATH = empty
  try {
    assert.equal(await idleThread(thread.tid, 10), false)
    assert.deepEqual(schedOf(thread.tid), { policy: 0, nice: 10 })
  } finally {
    process.env.PATH = path
    await thread.stop()
    await rm(empty, { recursive: true, force: true })
  }
})
