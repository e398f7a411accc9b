/**
 * The console's build is reproducible (two builds are byte-identical, and equal to console/dist
 * that `npm ci` built) and within its budget: under 200 KB of gzipped JavaScript.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { buildConsole } from '../../scripts/build-console.ts'
import { consoleDistDir } from '../../src/console/index.ts'

test('two builds of the console are byte-identical, match console/dist, and the JS is under 200 KB gzipped', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-console-build-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await buildConsole(join(dir, 'a'))
  await buildConsole(join(dir, 'b'))
  const files = (await readdir(join(dir, 'a'))).sort()
  assert.deepEqual(files, ['app.css', 'app.js', 'index.html'])
  for (const name of files) {
    const a = await readFile(join(dir, 'a', name))
    assert.ok(a.equals(await readFile(join(dir, 'b', name))), `${name}: two builds differ`)
    assert.ok(a.equals(await readFile(join(consoleDistDir, name))), `${name}: console/dist is stale; run npm run build:console`)
  }
  const gzipped = gzipSync(await readFile(join(dir, 'a', 'app.js')), { level: 9 }).length
  assert.ok(gzipped < 200 * 1024, `app.js is ${gzipped} bytes gzipped`)
})
