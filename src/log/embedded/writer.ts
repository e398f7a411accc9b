/**
 * The event loop's side of the embedded log's writer thread (writer-thread.ts): every write of
 * this process goes there as a message and comes back as a promise. A group commit's record
 * bytes move to the thread without a copy. If the thread dies, what it had in hand fails with
 * VGL_LOG_BACKEND_ERROR (nothing of it was acknowledged) and the next write starts a new one.
 */
import { Worker } from 'node:worker_threads'
import { VigilError } from '../../errors.ts'
import type { WriteOp, WriteOutcome } from './store.ts'
import {
  errorFromWire, type WireOutcome, type WriterCall, type WriterCallName, type WriterOptions, type WriterReply, type WriterRequest
} from './writer-protocol.ts'

const threadUrl = new URL('./writer-thread.ts', import.meta.url)

interface Pending {
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

export class StoreWriter {
  readonly #options: WriterOptions
  readonly #onMaintenanceError: (error: VigilError) => void
  readonly #pending = new Map<number, Pending>()
  #worker: Worker | undefined
  #opened: Promise<void> | undefined
  #nextId = 1
  #closed = false

  constructor (options: WriterOptions, onMaintenanceError: (error: VigilError) => void) {
    this.#options = options
    this.#onMaintenanceError = onMaintenanceError
  }

  /** Starts the thread and waits until it has the file open (its error, e.g. VGL_LOG_UNREACHABLE, otherwise). */
  open (): Promise<void> {
    this.#opened ??= this.#start()
    return this.#opened
  }

  /** One group commit; resolves with each op's outcome. The ops' record buffers are handed over (detached here). */
  async writeBatch (ops: WriteOp[]): Promise<WriteOutcome[]> {
    const transfer: ArrayBuffer[] = []
    for (const op of ops) if (op.kind === 'produce') transfer.push(op.records.data.buffer as ArrayBuffer)
    const outcomes = await this.#request({ id: 0, kind: 'writeBatch', ops }, transfer) as WireOutcome[]
    return outcomes.map(o => o === null ? undefined : Array.isArray(o) ? o : errorFromWire(o.error))
  }

  async call<K extends WriterCallName> (name: K, ...args: Parameters<WriterCall<K>>): Promise<ReturnType<WriterCall<K>>> {
    return await this.#request({ id: 0, kind: 'call', name, args }) as ReturnType<WriterCall<K>>
  }

  /** Stops the maintenance, closes the thread's connection and ends the thread (after the writes in hand). */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const worker = this.#worker
    if (worker === undefined) return
    try {
      await this.#send(worker, { id: 0, kind: 'close' })
    } catch {
      // The thread is gone already.
    }
    await worker.terminate()
  }

  async #request (request: WriterRequest, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.#closed) throw new VigilError('VGL_LOG_CLOSED', `the embedded log ${this.#options.path} is closed`, { path: this.#options.path })
    // After the thread died, the next write starts a new one.
    if (this.#worker === undefined) await this.open()
    return await this.#send(this.#worker as Worker, request, transfer)
  }

  #send (worker: Worker, request: WriterRequest, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const id = this.#nextId++
    request.id = id
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      if (this.#pending.size === 1) worker.ref()
      worker.postMessage(request, transfer)
    })
  }

  #start (): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(threadUrl, { workerData: this.#options })
      let opened = false
      worker.on('message', (reply: WriterReply) => {
        switch (reply.kind) {
          case 'opened':
            opened = true
            this.#worker = worker
            worker.unref()
            resolve()
            return
          case 'openFailed':
            reject(errorFromWire(reply.error, 'VGL_LOG_UNREACHABLE'))
            return
          case 'maintenanceError':
            this.#onMaintenanceError(errorFromWire(reply.error))
            return
          default:
            this.#settle(reply)
        }
      })
      worker.on('error', (error) => {
        if (!opened) reject(new VigilError('VGL_LOG_UNREACHABLE', `the embedded log's writer thread for ${this.#options.path} failed to start: ${error.message}`, { path: this.#options.path }))
      })
      worker.on('exit', (code) => {
        if (this.#worker === worker) {
          this.#worker = undefined
          this.#opened = undefined
        }
        if (!opened) {
          this.#opened = undefined
          reject(new VigilError('VGL_LOG_UNREACHABLE', `the embedded log's writer thread for ${this.#options.path} exited (code ${code}) before it opened the file`, { path: this.#options.path }))
          return
        }
        const lost = [...this.#pending.values()]
        this.#pending.clear()
        for (const p of lost) {
          p.reject(new VigilError('VGL_LOG_BACKEND_ERROR', `the embedded log's writer thread for ${this.#options.path} stopped (code ${code}) before this write finished; it was not acknowledged`, { path: this.#options.path }))
        }
      })
    })
  }

  #settle (reply: Extract<WriterReply, { kind: 'result' | 'error' }>): void {
    const pending = this.#pending.get(reply.id)
    if (pending === undefined) return
    this.#pending.delete(reply.id)
    if (this.#pending.size === 0) this.#worker?.unref()
    if (reply.kind === 'result') pending.resolve(reply.result)
    else pending.reject(errorFromWire(reply.error))
  }
}
