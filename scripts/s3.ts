/**
 * An S3-compatible server on loopback for tests, benchmarks and local development: moto's
 * server mode (the AWS mock that boto and most S3 tooling test against), installed from PyPI
 * into a virtualenv under `.cache/s3/` the first time (scripts/python-venv.ts), with no manual step.
 *
 *   npm run s3                          serves on 127.0.0.1:<free port> and prints the settings
 *   npm run s3 -- --port 9000 --bucket audit
 *
 * As a module (tests, bench/):
 *
 *   const s3 = await startS3({ bucket: 'audit' })
 *   // s3.endpoint, s3.accessKeyId, s3.secretAccessKey, s3.region
 *   await s3.stop()
 *
 * Data lives in memory and is gone at stop. The server dies with the Node process that started
 * it, even on SIGKILL (a watcher shell holds a pipe to Node, as scripts/kafka.ts does).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { projectRoot, pythonTool } from './python-venv.ts'

export const motoVersion = '5.2.5'
const host = '127.0.0.1'

export interface S3Server {
  /** e.g. http://127.0.0.1:43117 */
  readonly endpoint: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly region: string
  readonly pid: number | undefined
  /** Stops the server (its data is lost). Idempotent. */
  stop (): Promise<void>
}

export interface StartS3Options {
  port?: number
  /** Creates this bucket once the server answers. */
  bucket?: string
  log?: (line: string) => void
}

/** The moto_server executable, installing moto[server] into .cache/s3/venv when needed. */
export function motoServer (log: (line: string) => void = () => {}): Promise<string> {
  return pythonTool({ name: 's3', requirements: [`moto[server]==${motoVersion}`], executable: 'moto_server' }, log)
}

async function logTail (file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '')
  return text.trim().split('\n').slice(-15).join('\n')
}

const launcher = `exec 3<&0
"$@" </dev/null >>"$VIGIL_S3_LOG" 2>&1 &
cpid=$!
echo "$cpid"
(while read -r _ <&3; do :; done; kill -9 "$cpid" 2>/dev/null) &
wait "$cpid"
`

export async function startS3 (options: StartS3Options = {}): Promise<S3Server> {
  const log = options.log ?? (() => {})
  const exe = await motoServer(log)
  const port = options.port ?? await freePort()
  const logFile = join(projectRoot, '.cache', 's3', `moto-${port}.log`)
  await writeFile(logFile, '')
  const child: ChildProcess = spawn('sh', ['-c', launcher, 'vigil-s3', exe, '-H', host, '-p', String(port)], {
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { ...process.env, VIGIL_S3_LOG: logFile, MOTO_ALLOW_NONEXISTENT_REGION: 'true' }
  })
  let exited = false
  const exit = new Promise<void>(resolve => child.once('exit', () => { exited = true; child.stdin?.destroy(); resolve() }))
  const pid = await new Promise<number | undefined>(resolve => {
    let text = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (text.includes('\n')) resolve(Number(text.trim()))
    })
    child.once('exit', () => resolve(undefined))
  })
  const endpoint = `http://${host}:${port}`
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    try { if (pid !== undefined) process.kill(pid, 'SIGKILL') } catch {}
    child.stdin?.destroy()
    await exit
  }
  const deadline = Date.now() + 60_000
  for (;;) {
    if (exited) throw new Error(`moto_server exited while starting; the end of ${logFile}:\n${await logTail(logFile)}`)
    try {
      const response = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(1000) })
      await response.arrayBuffer()
      if (response.status < 500) break
    } catch {}
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`moto_server on ${endpoint} did not answer within 60 s; the end of ${logFile}:\n${await logTail(logFile)}`)
    }
    await sleep(100)
  }
  if (options.bucket !== undefined) {
    const response = await fetch(`${endpoint}/${options.bucket}`, { method: 'PUT' })
    await response.arrayBuffer()
  }
  log(`moto S3 on ${endpoint} (log: ${logFile})`)
  return { endpoint, accessKeyId: 'vigil-test', secretAccessKey: 'vigil-test-secret', region: 'us-east-1', pid, stop }
}

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ port: 0, host }, () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, bucket: { type: 'string' } } })
  const s3 = await startS3({
    ...(values.port === undefined ? {} : { port: Number(values.port) }),
    ...(values.bucket === undefined ? {} : { bucket: values.bucket }),
    log: line => console.log(line)
  })
  console.log(`S3 endpoint ${s3.endpoint}\n  VIGIL_AUDIT_BACKEND=s3 VIGIL_AUDIT_S3_ENDPOINT_URL=${s3.endpoint} VIGIL_AUDIT_S3_ACCESS_KEY_ID=${s3.accessKeyId} VIGIL_AUDIT_S3_SECRET_ACCESS_KEY=${s3.secretAccessKey}${values.bucket === undefined ? '' : ` VIGIL_AUDIT_S3_BUCKET=${values.bucket}`}\nCtrl-C stops it.`)
  const shutdown = (): void => { s3.stop().then(() => process.exit(0), () => process.exit(1)) }
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
}
