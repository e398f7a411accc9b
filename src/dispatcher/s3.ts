/**
 * Attachments from S3: any S3-compatible endpoint (MinIO, moto, S3Proxy, AWS), path-style, read
 * whole into memory (bounded by dispatcher.maxAttachmentBytes), as the dispatcher's s3fs does.
 */
import { GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3'
import { VigilError } from '../errors.ts'
import { describeNetworkError, isNetworkError } from '../pipeline/classify.ts'

export interface S3ReaderOptions {
  url: string
  region: string
  accessKeyId: string
  secretAccessKey: string
  requestTimeoutMs: number
  maxBytes: number
}

export interface S3Reader {
  read (bucket: string, key: string, signal?: AbortSignal): Promise<Buffer>
  close (): void
}

export function createS3Reader (options: S3ReaderOptions): S3Reader {
  const client = new S3Client({
    endpoint: options.url,
    region: options.region,
    forcePathStyle: true,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1
  })
  return {
    async read (bucket, key, signal) {
      const where = `s3://${bucket}/${key}`
      const timeout = AbortSignal.timeout(options.requestTimeoutMs)
      const abortSignal = signal === undefined ? timeout : AbortSignal.any([timeout, signal])
      try {
        const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal })
        const length = answer.ContentLength
        if (length !== undefined && length > options.maxBytes) {
          answer.Body?.transformToWebStream().cancel().catch(() => {})
          throw new VigilError('VGL_DISPATCHER_ATTACHMENT_INVALID', `${where} holds ${length} bytes, more than dispatcher.maxAttachmentBytes (${options.maxBytes})`, { size: length, maxAttachmentBytes: options.maxBytes })
        }
        const bytes = Buffer.from(await (answer.Body as { transformToByteArray: () => Promise<Uint8Array> }).transformToByteArray())
        if (bytes.length > options.maxBytes) {
          throw new VigilError('VGL_DISPATCHER_ATTACHMENT_INVALID', `${where} holds ${bytes.length} bytes, more than dispatcher.maxAttachmentBytes (${options.maxBytes})`, { size: bytes.length, maxAttachmentBytes: options.maxBytes })
        }
        return bytes
      } catch (error) {
        if (error instanceof VigilError) throw error
        if (timeout.aborted) throw new VigilError('VGL_DISPATCHER_S3_UNAVAILABLE', `${where}: no answer within ${options.requestTimeoutMs} ms`, { bucket, key, cause: error })
        if (error instanceof S3ServiceException) {
          const status = error.$metadata.httpStatusCode ?? 0
          if (error.name === 'NoSuchKey' || error.name === 'NoSuchBucket' || error.name === 'NotFound' || status === 404) {
            throw new VigilError('VGL_DISPATCHER_S3_NOT_FOUND', `${where} does not exist (${error.name})`, { bucket, key })
          }
          if (status === 401 || status === 403) {
            throw new VigilError('VGL_DISPATCHER_S3_DENIED', `${where}: access denied (${error.name})`, { bucket, key })
          }
          throw new VigilError('VGL_DISPATCHER_S3_UNAVAILABLE', `${where}: ${error.name} (HTTP ${status})`, { bucket, key, status })
        }
        const message = isNetworkError(error) ? describeNetworkError(error) : (error as Error).message
        throw new VigilError('VGL_DISPATCHER_S3_UNAVAILABLE', `${where}: ${message}`, { bucket, key, cause: error })
      }
    },
    close () {
      client.destroy()
    }
  }
}
