/**
 * Every command that prints ends quietly when its reader goes away (`vigil … | head`): exit
 * status 0, no stack trace, no EPIPE on stderr. Runs the real executable in child processes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'

const vigilBin = new URL('../../bin/vigil.js', import.meta.url).pathname
const env = { PATH: process.env.PATH ?? '' }

interface Ended { code: number | null, signal: NodeJS.Signals | null, stderr: string }

function tempLog (): string {
  return `embedded:${join(mkdtempSync(join(tmpdir(), 'vigil-epipe-')), 'vigil.db')}`
}

function run (args: string[], input = ''): Promise<Ended & { stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [vigilBin, ...args], { env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (typeof error.code === 'number' ? error.code : 1), signal: null, stdout, stderr })
    })
    child.stdin?.end(input)
  })
}

/** Runs vigil with a stdout pipe whose reading end is closed before vigil writes anything. */
function runWithReaderGone (args: string[]): Promise<Ended> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [vigilBin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (c) => { stderr += String(c) })
    child.on('close', (code, signal) => resolve({ code, signal, stderr }))
  })
}

/** `sh -c 'vigil … | head -c1'`, reporting vigil's own exit status (not head's). */
function runIntoHead (args: string[]): Promise<Ended> {
  const quoted = [process.execPath, vigilBin, ...args].map(a => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  // POSIX sh has no PIPESTATUS: vigil's status leaves the pipeline on descriptor 3.
  const script = `status=$( { { ${quoted}; echo "$?" >&3; } | head -c1 >/dev/null; } 3>&1 ); echo "status=$status" >&2`
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', script], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c) => { stderr += String(c) })
    child.on('close', () => {
      const match = /status=(\d+)\s*$/.exec(stderr)
      resolve({ code: match === null ? null : Number(match[1]), signal: null, stderr: stderr.replace(/status=\d+\s*$/, '') })
    })
  })
}

function assertQuiet (ended: Ended, what: string): void {
  assert.equal(ended.signal, null, `${what}: killed by ${ended.signal ?? ''}`)
  assert.equal(ended.code, 0, `${what}: exit status ${ended.code ?? 'none'}; stderr: ${ended.stderr}`)
  assert.doesNotMatch(ended.stderr, /EPIPE|at .*\.(ts|js):\d+|Error/, `${what}: stderr is not quiet: ${ended.stderr}`)
}

test('vigil topics describe into a reader that closed at once ends quietly with status 0', async () => {
  const log = tempLog()
  const topic = `epipe-${randomUUID()}`
  assert.equal((await run(['topics', 'create', topic, '--partitions', '3', '--log', log])).code, 0)
  assertQuiet(await runWithReaderGone(['topics', 'describe', topic, '--log', log]), 'topics describe')
  assertQuiet(await runWithReaderGone(['topics', 'list', '--log', log]), 'topics list')
  assertQuiet(await runWithReaderGone(['--help']), '--help')
})

test('vigil topics describe | head -c1 and vigil consume | head -c1 (more than a pipe buffer) end quietly', async () => {
  const log = tempLog()
  const topic = `epipe-${randomUUID()}`
  assert.equal((await run(['topics', 'create', topic, '--log', log])).code, 0)
  const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, padding: 'x'.repeat(100) })).join('\n') + '\n'
  const produced = await run(['produce', '--topic', topic, '--log', log], lines)
  assert.equal(produced.code, 0, produced.stderr)
  assertQuiet(await runIntoHead(['topics', 'describe', topic, '--log', log]), 'topics describe | head -c1')
  // ~400 KB of NDJSON: the pipe fills, head has gone, and later writes fail with EPIPE.
  assertQuiet(await runIntoHead(['consume', '--topic', topic, '--from-beginning', '--max', '3000', '--log', log]), 'consume | head -c1')
})
