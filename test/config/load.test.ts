import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, redactConfig, envNameOf, validateConfig } from '../../src/config/load.ts'
import { isVigilError } from '../../src/errors.ts'

function tempFile (content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vigil-config-')), 'vigil.json')
  writeFileSync(file, content)
  return file
}

test('defaults come from the schema and the result is frozen', () => {
  const config = loadConfig()
  assert.equal(config.log.url, 'embedded:./data/vigil.db')
  assert.equal(config.server.port, 8080)
  assert.equal(config.log.kafka.sasl.mechanism, 'none')
  assert.deepEqual(config.topics, [])
  assert.ok(Object.isFrozen(config.log.kafka))
  assert.throws(() => { (config.server as { port: number }).port = 1 })
})

test('precedence: defaults < file < environment < flags', () => {
  const file = tempFile(JSON.stringify({ server: { port: 1000, host: '127.0.0.1' }, log: { url: 'embedded:/tmp/file.db' } }))
  const config = loadConfig({
    file,
    env: { VIGIL_SERVER_PORT: '2000', VIGIL_LOG_URL: 'embedded:/tmp/env.db', PATH: '/bin' },
    overrides: { 'log.url': 'kafka://127.0.0.1:9092' }
  })
  assert.equal(config.server.port, 2000)
  assert.equal(config.log.url, 'kafka://127.0.0.1:9092')
})

test('VIGIL_CONFIG names the file and is not refused as an unknown key; other variables are ignored', () => {
  const config = loadConfig({ env: { VIGIL_CONFIG: '/nowhere.json', TEST_KAFKA: '127.0.0.1:1' } })
  assert.equal(config.server.port, 8080)
})

test('environment values are parsed by the key\'s type', () => {
  const config = loadConfig({
    env: {
      VIGIL_LOG_KAFKA_TLS_ENABLED: 'true',
      VIGIL_LOG_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      VIGIL_TOPICS: '[{"name":"observation","partitions":3}]'
    }
  })
  assert.equal(config.log.kafka.tls.enabled, true)
  assert.equal(config.log.kafka.sasl.mechanism, 'SCRAM-SHA-512')
  assert.deepEqual(config.topics, [{ name: 'observation', partitions: 3 }])
  assert.equal(envNameOf('log.kafka.tls.caFile'), 'VIGIL_LOG_KAFKA_TLS_CA_FILE')
})

const rejects: Array<[string, () => unknown, string, RegExp]> = [
  ['an unknown key in the file', () => loadConfig({ file: tempFile('{"server":{"prot":1}}') }), 'VGL_CONFIG_INVALID', /unknown key server\.prot/],
  ['a value of the wrong type', () => loadConfig({ file: tempFile('{"server":{"port":"80"}}') }), 'VGL_CONFIG_INVALID', /server\.port must be integer/],
  ['a value out of range', () => validateConfig({ server: { port: 70000 } }), 'VGL_CONFIG_INVALID', /server\.port must be <= 65535/],
  ['a value not in the allowed set', () => validateConfig({ log: { kafka: { sasl: { mechanism: 'GSSAPI' } } } }), 'VGL_CONFIG_INVALID', /log\.kafka\.sasl\.mechanism must be one of "none", "PLAIN"/],
  ['a malformed file', () => loadConfig({ file: tempFile('{"server": ') }), 'VGL_CONFIG_FILE_UNREADABLE', /is not valid JSON/],
  ['a file that is not an object', () => loadConfig({ file: tempFile('[1,2]') }), 'VGL_CONFIG_FILE_UNREADABLE', /must hold a JSON object/],
  ['a missing file', () => loadConfig({ file: '/nonexistent/vigil.json' }), 'VGL_CONFIG_FILE_UNREADABLE', /cannot read config file/],
  ['an unknown VIGIL_ variable', () => loadConfig({ env: { VIGIL_SERVER_PROT: '1' } }), 'VGL_CONFIG_UNKNOWN_ENV', /VIGIL_SERVER_PROT/],
  ['a non-number in a number variable', () => loadConfig({ env: { VIGIL_SERVER_PORT: 'eighty' } }), 'VGL_CONFIG_INVALID', /VIGIL_SERVER_PORT must be a number/],
  ['a non-boolean in a boolean variable', () => loadConfig({ env: { VIGIL_LOG_KAFKA_TLS_ENABLED: 'maybe' } }), 'VGL_CONFIG_INVALID', /must be true or false/],
  ['bad JSON in a list variable', () => loadConfig({ env: { VIGIL_TOPICS: '[{' } }), 'VGL_CONFIG_INVALID', /VIGIL_TOPICS must be JSON text/],
  ['an invalid topic name', () => validateConfig({ topics: [{ name: 'a b' }] }), 'VGL_CONFIG_INVALID', /topics\.0\.name must match pattern/],
  ['an unknown flag key', () => loadConfig({ overrides: { 'server.prot': 1 } }), 'VGL_CONFIG_INVALID', /unknown configuration key server\.prot/]
]
for (const [what, load, code, message] of rejects) {
  test(`rejects ${what} with ${code}, naming the key`, () => {
    assert.throws(load, (error) => isVigilError(error, code as 'VGL_CONFIG_INVALID') && message.test(error.message))
  })
}

test('several problems are reported together', () => {
  assert.throws(() => validateConfig({ server: { port: 'x', nope: 1 } }), (error) =>
    isVigilError(error) && /server\.port/.test(error.message) && /server\.nope/.test(error.message))
})

test('redactConfig hides every secret', () => {
  const config = validateConfig({ log: { kafka: { sasl: { mechanism: 'PLAIN', username: 'u', password: 'hunter2' } } }, server: { apiTokens: ['0123456789abcdef0123'] } })
  const text = JSON.stringify(redactConfig(config))
  assert.ok(!text.includes('hunter2') && !text.includes('0123456789abcdef0123'))
  assert.ok(text.includes('"username":"u"'))
})
