/**
 * The embedded log's writer thread (started by writer.ts): its own connection to the file, on
 * which it runs every write transaction of this process (group commits, topic changes, the
 * consumer group protocol) and the background maintenance. The SQLite work, the WAL writes and
 * the fsync of a commit happen here, so the event loop keeps answering while they run.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { VigilError } from '../../errors.ts'
import { Maintenance } from './maintenance.ts'
import { Store, type WriteOutcome } from './store.ts'
import { errorToWire, type WireOutcome, type WriterCallName, type WriterOptions, type WriterReply, type WriterRequest } from './writer-protocol.ts'

const port = parentPort
if (port === null) throw new Error('writer-thread.ts runs as the worker thread of writer.ts')
const options = workerData as WriterOptions
const send = (reply: WriterReply): void => { port.postMessage(reply) }

const store = open()
if (store !== undefined) serve(store)

function open (): Store | undefined {
  try {
    return new Store(options.path, options.busyTimeoutMs)
  } catch (error) {
    send({ kind: 'openFailed', error: errorToWire(error) })
    port?.close()
    return undefined
  }
}

function serve (store: Store): void {
  const maintenance = new Maintenance(store, options.maintenanceIntervalMs, error => send({ kind: 'maintenanceError', error: errorToWire(error) }))
  maintenance.start()
  const calls: { [K in WriterCallName]: (...args: never[]) => unknown } = {
    createTopic: (...args: Parameters<Store['createTopic']>) => store.createTopic(...args),
    deleteTopic: (...args: Parameters<Store['deleteTopic']>) => store.deleteTopic(...args),
    syncMember: (...args: Parameters<Store['syncMember']>) => store.syncMember(...args),
    heartbeat: (...args: Parameters<Store['heartbeat']>) => store.heartbeat(...args),
    release: (...args: Parameters<Store['release']>) => store.release(...args),
    leave: (...args: Parameters<Store['leave']>) => store.leave(...args),
    ping: () => store.ping()
  }
  port?.on('message', (request: WriterRequest) => {
    if (request.kind === 'close') {
      maintenance.stop().finally(() => {
        store.close()
        send({ kind: 'result', id: request.id, result: undefined })
        port.close()
      })
      return
    }
    try {
      const result = request.kind === 'writeBatch'
        ? store.writeBatch(request.ops).map(toWire)
        : (calls[request.name] as (...args: unknown[]) => unknown)(...request.args)
      send({ kind: 'result', id: request.id, result })
    } catch (error) {
      send({ kind: 'error', id: request.id, error: errorToWire(error) })
    }
  })
  send({ kind: 'opened' })
}

function toWire (outcome: WriteOutcome): WireOutcome {
  if (outcome instanceof VigilError) return { error: errorToWire(outcome) }
  return outcome ?? null
}
