/**
 * Interoperability with Confluent's own Python client (confluent-kafka, from PyPI into a venv by
 * scripts/confluent-python.ts): GET /contexts and the compatibility checks against all versions
 * (latest only unless the level is transitive) answer it as Confluent's registry does.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { confluentPython } from '../../scripts/confluent-python.ts'
import { createRegistry, createRegistryApp, openEmbeddedLog, tempDir } from './helpers/registry.ts'

const run = promisify(execFile)
const checks = new URL('./helpers/confluent-python-checks.py', import.meta.url).pathname

test('confluent-kafka\'s SchemaRegistryClient: get_contexts, test_compatibility_all_versions and test_compatibility per level', async (t) => {
  const python = await confluentPython((line) => { t.diagnostic(line) })
  const dir = await tempDir(t)
  const log = await openEmbeddedLog(t, join(dir, 'vigil.db'))
  const registry = await createRegistry(t, log)
  const app = await createRegistryApp(t, registry)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })

  const { stdout } = await run(python, [checks, `${address}/registry`, 'drift-value'], { timeout: 120_000 })
  const answers = JSON.parse(stdout) as Record<string, unknown>

  assert.deepEqual(answers.contexts, ['.'])
  assert.deepEqual(answers.ids, [1, 2])
  // Non-transitive levels look at the latest version (identical to the candidate) only.
  assert.deepEqual(answers.BACKWARD, { all_versions: true, latest: true, version_1: false })
  assert.deepEqual(answers.FULL, { all_versions: true, latest: true, version_1: false })
  // Transitive levels look at version 1 too, which the candidate cannot read.
  assert.deepEqual(answers.BACKWARD_TRANSITIVE, { all_versions: false, latest: true, version_1: false })
  assert.deepEqual(answers.FULL_TRANSITIVE, { all_versions: false, latest: true, version_1: false })
  // A subject without versions has nothing to be incompatible with (Confluent answers true too).
  assert.equal(answers.missing_subject, true)
})
