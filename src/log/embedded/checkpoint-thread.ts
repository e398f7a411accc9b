/**
 * The embedded log's checkpoint thread (started for the writer thread by checkpointer.ts): on its
 * own connection, it copies committed WAL frames into the database file every intervalMs, so
 * that no group commit waits for that copy.
 *
 * Why: SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past its
 * threshold, so one commit every few seconds also paid for copying tens of MB and for the
 * database file's fsync (20–30 ms at 20k audit events/s; BENCHMARKS.md). A PASSIVE checkpoint
 * here blocks neither the writer nor the readers. The writer's automatic checkpoint stays as the
 * fallback when this thread falls behind (it then finds the WAL small, or this thread busy).
 *
 * Why several passes: the WAL restarts from its start (instead of growing) only when a write
 * transaction begins with every frame copied, and commits keep landing while a long pass runs;
 * the next pass copies just those, quickly.
 */
import { DatabaseSync } from 'node:sqlite'
import { parentPort, workerData } from 'node:worker_threads'

export interface CheckpointOptions {
  path: string
  intervalMs: number
}

/** Passes per tick at most: the first copies the interval's frames, the others what came meanwhile. */
const maxPasses = 3

const port = parentPort
if (port === null) throw new Error('checkpoint-thread.ts runs as a worker thread of checkpointer.ts')
const options = workerData as CheckpointOptions

// No busy wait: a PASSIVE checkpoint never waits anyway, and another process's checkpointer
// holding the file's checkpoint lock means the work is being done.
const db = new DatabaseSync(options.path, { timeout: 0 })
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)')
port.postMessage({ opened: true })

const timer = setInterval(() => {
  try {
    for (let pass = 0; pass < maxPasses; pass++) {
      const row = checkpoint.get() as { busy: number, log: number, checkpointed: number }
      if (row.busy !== 0 || row.checkpointed >= row.log) break
    }
  } catch (error) {
    port.postMessage({ error: error instanceof Error ? error.message : String(error) })
  }
}, options.intervalMs)

port.on('message', (message: unknown) => {
  if (message !== 'close') return
  clearInterval(timer)
  db.close()
  port.close()
})
