/**
 * Starts and stops the checkpoint thread (checkpoint-thread.ts) for the writer thread. A thread
 * that cannot open the file or whose checkpoints fail is reported through `report` (once per
 * distinct message) and otherwise ignored: SQLite's own checkpoint, inside the commits, does the
 * work then.
 */
import { Worker } from 'node:worker_threads'
import type { CheckpointOptions } from './checkpoint-thread.ts'

const checkpointThreadUrl = new URL('./checkpoint-thread.ts', import.meta.url)

export interface Checkpointer {
  /** Resolves once the thread has its connection, or once it failed. */
  ready: Promise<void>
  /** Asks the thread to close its connection and waits until it has exited (ending it if a checkpoint hangs). */
  stop: () => Promise<void>
}

export function startCheckpointer (options: CheckpointOptions, report: (message: string) => void): Checkpointer {
  const worker = new Worker(checkpointThreadUrl, { workerData: options })
  let last = ''
  const reportOnce = (message: string): void => {
    if (message === last) return
    last = message
    report(message)
  }
  let opened: () => void = () => {}
  // Until it is ready the thread keeps its parent alive; afterwards the parent's own work does.
  const ready = new Promise<void>(resolve => { opened = resolve }).then(() => { worker.unref() })
  worker.on('message', (message: { opened: true } | { error: string }) => {
    if ('opened' in message) opened()
    else reportOnce(message.error)
  })
  worker.on('error', error => { reportOnce(error.message); opened() })
  const exited = new Promise<void>(resolve => worker.once('exit', () => { opened(); resolve() }))
  return {
    ready,
    stop: async () => {
      worker.postMessage('close')
      const stuck = setTimeout(() => { worker.terminate().catch(() => {}) }, 10_000)
      await exited
      clearTimeout(stuck)
    }
  }
}
