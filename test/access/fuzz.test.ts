/**
 * A short fuzz run of the whole API from its OpenAPI document (schemathesis): no answer of 500
 * or above, and the server healthy after it. `node scripts/fuzz.ts --seconds 300` runs longer.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fuzz } from '../../scripts/fuzz.ts'
import { startFuzzTarget } from './fuzz-target.ts'

test('schemathesis finds no 5xx in any operation, and the server stays healthy', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-fuzz-'))
  const target = await startFuzzTarget(dir)
  t.after(async () => { await target.close(); await rm(dir, { recursive: true, force: true }) })
  const result = await fuzz({ url: target.url, token: target.token, seconds: 30 })
  assert.equal(result.code, 0, result.output.slice(-6000))
  assert.match(result.output, /Tested: \d+/)
  const tested = Number(/Tested: (\d+)/.exec(result.output)?.[1])
  assert.ok(tested >= 50, `only ${tested} operations were fuzzed`)
  assert.equal((await fetch(`${target.url}/readyz`)).status, 200)
  assert.ok(!target.logs.some(line => line.includes('"level":50') && line.includes('VGL_HTTP_INTERNAL')), 'no internal error was logged')
})
