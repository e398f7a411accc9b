/** An encoder thread of encode-pool.ts: encodes batches and hands the file bytes back without copying them. */
import { parentPort } from 'node:worker_threads'
import { encodeBatch, type EncodeRequest } from './batch-encoder.ts'

const port = parentPort
if (port === null) throw new Error('encode-worker.ts runs as a worker thread of encode-pool.ts')

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
