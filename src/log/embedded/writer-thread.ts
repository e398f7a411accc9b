/**
 * The embedded log's writer thread (started by writer.ts): its own connection to the file, on
 * which it runs every write transaction of this process (group commits, topic changes, the
 * consumer group protocol) and the background maintenance. The SQLite work, the WAL writes and
 * the fsync of a commit happen here, so the event loop keeps answering while they run. It starts
 * the checkpoint thread (checkpoint-thread.ts), so that commits do not copy the WAL themselves.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { VigilError } from '../../errors.ts'
import { Maintenance } from './maintenance.ts'
import { startCheckpointer } from './checkpointer.ts'
import { Store, type WriteOutcome } from './store.ts'
import { errorToWire, writerCalls, type WireOutcome, type WriterCallName, type WriterOptions, type WriterReply, type WriterRequest } from './writer-protocol.ts'

const port = parentPort
if (port === null) throw new Error('writer-thread.ts runs as the worker thread of writer.ts')
const options = workerData as WriterOptions
const send = (reply: WriterReply): void => { port.postMessage(reply) }

const store = open()
if (store !== undefined) serve(store).catch(() => {})

function open (): Store | undefined {
  try {
    return new Store(options.path, options.busyTimeoutMs)
  } catch (error) {
    send({ kind: 'openFailed', error: errorToWire(error) })
    port?.close()
    return undefined
  }
}

async function serve (store: Store): Promise<void> {
  const maintenance = new Maintenance(store, options.maintenanceIntervalMs, error => send({ kind: 'maintenanceError', error: errorToWire(error) }))
  maintenance.start()
  // The log counts as open once every thread has its connection, so that between connect() and
  // close() resolving, and only then, something of the log has the file open.
  const checkpointer = startCheckpointer({ path: options.path, intervalMs: options.checkpointIntervalMs }, message => {
    send({ kind: 'maintenanceError', error: errorToWire(new VigilError('VGL_LOG_BACKEND_ERROR', `background checkpoint of ${options.path} failed: ${message}`, { path: options.path })) })
  })
  await checkpointer.ready
  port?.on('message', (request: WriterRequest) => {
    if (request.kind === 'close') {
      // The checkpoint thread's connection is closed before the close is answered: a caller that
      // then removes the file (tests, a deleted topic's directory) must find nothing reopening it.
      Promise.allSettled([checkpointer.stop(), maintenance.stop()]).finally(() => {
        store.close()
        send({ kind: 'result', id: request.id, result: undefined })
        port.close()
      })
      return
    }
    try {
      const result = request.kind === 'writeBatch'
        ? store.writeBatch(request.ops).map(toWire)
        : call(store, request.name, request.args)
      send({ kind: 'result', id: request.id, result })
    } catch (error) {
      send({ kind: 'error', id: request.id, error: errorToWire(error) })
    }
  })
  send({ kind: 'opened' })
}

/** Runs one of the Store methods writer.ts may ask for (WriterCallName); anything else is refused. */
function call (store: Store, name: WriterCallName, args: unknown[]): unknown {
  if (!writerCalls.has(name)) throw new Error(`the writer thread does not run Store.${String(name)}`)
  return (store[name] as (...args: unknown[]) => unknown).apply(store, args)
}

function toWire (outcome: WriteOutcome): WireOutcome {
  if (outcome instanceof VigilError) return { error: errorToWire(outcome) }
  return outcome ?? null
}
