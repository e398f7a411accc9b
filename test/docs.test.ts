import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { renderConfigDoc, renderErrorsDoc } from '../src/docs.ts'
import { errorCatalog } from '../src/error-catalog.ts'

const read = (name: string) => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8')

test('docs/config.md matches the config schema (run npm run docs:gen after changing it)', () => {
  assert.equal(read('config.md'), renderConfigDoc())
})

test('docs/errors.md lists exactly the catalog\'s codes (run npm run docs:gen after changing it)', () => {
  const documented = [...read('errors.md').matchAll(/^\| `(VGL_[A-Z0-9_]+)` \|/gm)].map(m => m[1]).sort()
  assert.deepEqual(documented, Object.keys(errorCatalog).sort())
  assert.equal(read('errors.md'), renderErrorsDoc())
})

test('every error code follows VGL_<AREA>_<CONDITION> and has a summary and a hint', () => {
  for (const [code, spec] of Object.entries(errorCatalog)) {
    assert.match(code, /^VGL_[A-Z]+_[A-Z0-9_]+$/)
    assert.ok(spec.summary.length > 10 && spec.hint.length > 10, code)
  }
})
