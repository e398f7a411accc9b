/**
 * Fuzzes Vigil's whole HTTP API from its OpenAPI document with schemathesis (from PyPI, in
 * .cache/schemathesis/venv, installed the first time): every operation gets generated valid and
 * invalid requests, and any answer of 500 or above is a failure.
 *
 *   node scripts/fuzz.ts                      starts its own vigil serve (embedded log) for 300 s
 *   node scripts/fuzz.ts --seconds 60 --url https://host:8443 --token <admin token>
 *
 * As a module, test/access/fuzz.test.ts runs a short pass in `npm test`.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pythonTool } from './python-venv.ts'

export const schemathesisVersion = '4.32.5'

export interface FuzzOptions {
  /** The server, e.g. http://127.0.0.1:8080; its /openapi.json is read. */
  url: string
  /** A token whose principal may call every route (admin, producer and agent roles). */
  token: string
  /** The run's time budget. */
  seconds: number
  log?: (line: string) => void
}

export interface FuzzResult {
  /** schemathesis' exit code: 0 when no check failed. */
  code: number
  /** Its whole output. */
  output: string
}

export async function fuzz (options: FuzzOptions): Promise<FuzzResult> {
  const st = await pythonTool({ name: 'schemathesis', requirements: [`schemathesis==${schemathesisVersion}`], executable: 'st' }, options.log)
  const args = [
    'run', `${options.url}/openapi.json`,
    '--checks', 'not_a_server_error',
    '--max-time', String(options.seconds),
    '--workers', '1',
    '--request-timeout', '10',
    '--header', `Authorization: Bearer ${options.token}`,
    '--suppress-health-check', 'all',
    // A live stream never ends: the route walk and test/fleet/stream.test.ts test it.
    '--exclude-path', '/api/stream',
    '--no-color'
  ]
  return await new Promise((resolve, reject) => {
    const child = spawn(st, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SCHEMATHESIS_TELEMETRY: 'false' } })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.once('error', reject)
    child.once('exit', code => resolve({ code: code ?? -1, output }))
  })
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '300' }, url: { type: 'string' }, token: { type: 'string' } } })
  const seconds = Number(values.seconds)
  let url = values.url
  let token = values.token
  let stop = async (): Promise<void> => {}
  if (url === undefined) {
    const { startFuzzTarget } = await import('../test/access/fuzz-target.ts')
    const dir = await mkdtemp(join(tmpdir(), 'vigil-fuzz-'))
    const target = await startFuzzTarget(dir)
    url = target.url
    token = target.token
    stop = async () => { await target.close(); await rm(dir, { recursive: true, force: true }) }
  }
  if (token === undefined) throw new Error('--token is needed with --url')
  const started = Date.now()
  const result = await fuzz({ url, token, seconds, log: line => console.error(line) })
  console.log(result.output)
  const healthy = (await fetch(`${url}/readyz`)).status
  console.log(`schemathesis exit ${result.code} after ${Math.round((Date.now() - started) / 1000)} s; /readyz ${healthy}`)
  await stop()
  process.exitCode = result.code === 0 && healthy === 200 ? 0 : 1
}
