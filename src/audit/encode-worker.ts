/** An encoder thread of encode-pool.ts: encodes batches and hands the file bytes back without copying them. */
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { parentPort } from 'node:worker_threads'
import { encodeBatch, type EncodeRequest } from './batch-encoder.ts'

const port = parentPort
if (port === null) throw new Error('encode-worker.ts runs as a worker thread of encode-pool.ts')

lowerPriority()

port.on('message', ({ request }: { request: EncodeRequest }) => {
  try {
    const result = encodeBatch(request)
    const transfer: ArrayBuffer[] = []
    for (const file of result.files) {
      // Only a buffer that owns its whole ArrayBuffer can be transferred (zlib may hand out a slice).
      file.chunks = file.chunks.map(chunk => chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? chunk : new Uint8Array(chunk))
      for (const chunk of file.chunks) transfer.push(chunk.buffer as ArrayBuffer)
    }
    port.postMessage({ result }, transfer)
  } catch (error) {
    port.postMessage({ error: { message: (error as Error).message, stack: (error as Error).stack } })
  }
})

/**
 * Archiving can wait, acknowledging cannot: this thread runs at nice +10, so that when the CPUs
 * are busy the event loop (HTTP, the log's group commit) gets them first, and the archiver
 * catches up from the log's backlog once ingestion slows down (a backlog over
 * audit.maxBacklogRecords is refused with 503, so it cannot grow without bound). Linux only: a
 * thread's nice value is its own there, set through its thread id (/proc/thread-self). Elsewhere
 * the thread keeps the process's priority.
 */
function lowerPriority (): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10)
  } catch {}
}
