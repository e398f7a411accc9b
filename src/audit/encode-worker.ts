/** An encoder thread of encode-pool.ts: encodes batches and hands the file bytes back without copying them. */
import { parentPort } from 'node:worker_threads'
import { currentThreadId, idleThread } from '../thread-priority.ts'
import { encodeBatch, type EncodeRequest } from './batch-encoder.ts'

const port = parentPort
if (port === null) throw new Error('encode-worker.ts runs as a worker thread of encode-pool.ts')

// Archiving can wait, acknowledging cannot: this thread runs at SCHED_IDLE (thread-priority.ts;
// nice +10 where that fails), so that when the CPUs are busy the event loop (HTTP, the log's group
// commit) gets them first, and the archiver catches up from the log's backlog once ingestion slows
// down (a backlog over audit.maxBacklogRecords is refused with 503, so it cannot grow without
// bound). Linux only; elsewhere the thread keeps the process's priority.
const tid = currentThreadId()
if (tid !== undefined) idleThread(tid, 10).catch(() => {})

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
