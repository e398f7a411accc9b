import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { legacyEnvOverrides } from '../../src/dispatcher/legacy-env.ts'
import { loadConfig } from '../../src/config/load.ts'
import { isVigilError } from '../../src/errors.ts'

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

test('the dispatcher\'s environment maps onto Vigil\'s config', () => {
  const { overrides, notes, read } = legacyEnvOverrides({
    API_URL: 'https://ciso.example.com/api/',
    USER_TOKEN: ' pat-123 ',
    VERIFY_CERTIFICATE: 'True',
    BOOTSTRAP_SERVERS: 'k1:9092, k2:9092',
    KAFKA_USE_AUTH: 'True',
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_USERNAME: 'dispatcher',
    KAFKA_PASSWORD: 'kafka-secret',
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    ERRORS_TOPIC: 'errors',
    S3_URL: 'http://minio:9000',
    S3_ACCESS_KEY: 'minio',
    S3_SECRET_KEY: 'minio-secret',
    DEBUG: 'TRUE'
  })
  assert.deepEqual(overrides, {
    'dispatcher.api.url': 'https://ciso.example.com/api',
    'dispatcher.api.token': 'pat-123',
    'dispatcher.api.verifyCertificate': true,
    'log.url': 'kafka://k1:9092,k2:9092',
    'log.kafka.sasl.mechanism': 'SCRAM-SHA-512',
    'log.kafka.sasl.username': 'dispatcher',
    'log.kafka.sasl.password': 'kafka-secret',
    'log.kafka.tls.enabled': true,
    'dispatcher.errorsTopic': 'errors',
    'dispatcher.s3.url': 'http://minio:9000',
    'dispatcher.s3.accessKeyId': 'minio',
    'dispatcher.s3.secretAccessKey': 'minio-secret',
    'logging.level': 'debug'
  })
  assert.deepEqual(notes, [])
  assert.equal(read.length, 14)
  // The result is a valid config.
  const config = loadConfig({ overrides })
  assert.equal(config.log.kafka.sasl.mechanism, 'SCRAM-SHA-512')
  assert.equal(config.dispatcher.api.url, 'https://ciso.example.com/api')
})

test('defaults and corner cases follow the dispatcher, with its traps fixed', () => {
  // KAFKA_USE_AUTH without a mechanism: PLAIN (the original crashed in env-only mode).
  assert.equal(legacyEnvOverrides({ KAFKA_USE_AUTH: 'true', KAFKA_USERNAME: 'u', KAFKA_PASSWORD: 'p' }).overrides['log.kafka.sasl.mechanism'], 'PLAIN')
  // Credentials without KAFKA_USE_AUTH are not used.
  assert.deepEqual(legacyEnvOverrides({ KAFKA_USERNAME: 'u', KAFKA_PASSWORD: 'p' }).overrides, {})
  // VERIFY_CERTIFICATE=False really turns verification off, with a warning.
  const off = legacyEnvOverrides({ VERIFY_CERTIFICATE: 'False' })
  assert.equal(off.overrides['dispatcher.api.verifyCertificate'], false)
  assert.match(off.notes[0] ?? '', /not verified/)
  assert.match(legacyEnvOverrides({ API_URL: 'http://backend:8000' }).notes[0] ?? '', /does not end in \/api/)
  assert.deepEqual(legacyEnvOverrides({ BOOTSTRAP_SERVERS: 'k:9092' }, { logUrlGiven: true }).overrides, {})
  assert.equal(legacyEnvOverrides({ KAFKA_SECURITY_PROTOCOL: 'SSL' }).overrides['log.kafka.tls.enabled'], true, 'TLS without SASL works')
  assert.throws(() => legacyEnvOverrides({ KAFKA_USE_AUTH: 'True', KAFKA_SASL_MECHANISM: 'GSSAPI', KAFKA_USERNAME: 'u', KAFKA_PASSWORD: 'p' }), (e) => isVigilError(e, 'VGL_CONFIG_INVALID'))
  assert.throws(() => legacyEnvOverrides({ KAFKA_USE_AUTH: 'True' }), /KAFKA_USERNAME or KAFKA_PASSWORD is missing/)
  assert.throws(() => legacyEnvOverrides({ VERIFY_CERTIFICATE: 'maybe' }), /True or False/)
  assert.equal(legacyEnvOverrides({ DEBUG: 'yes' }).overrides['logging.level'], undefined, 'only "true" enables DEBUG, as in the original')
})

test('vigil dispatcher --print-config shows the merged settings with secrets redacted', () => {
  const result = spawnSync(process.execPath, [main, 'dispatcher', '--print-config'], {
    env: {
      PATH: process.env.PATH ?? '',
      API_URL: 'http://backend:8000/api',
      USER_TOKEN: 'pat-very-secret-token',
      BOOTSTRAP_SERVERS: 'broker:9092',
      KAFKA_USE_AUTH: 'True',
      KAFKA_USERNAME: 'u',
      KAFKA_PASSWORD: 'kafka-very-secret',
      ERRORS_TOPIC: 'errors',
      VIGIL_DISPATCHER_CONCURRENCY: '32'
    },
    encoding: 'utf8',
    timeout: 30_000
  })
  assert.equal(result.status, 0, result.stderr)
  const config = JSON.parse(result.stdout) as { log: { url: string, kafka: { sasl: { password: string } } }, dispatcher: { enabled: boolean, concurrency: number, errorsTopic: string, api: { url: string, token: string } } }
  assert.equal(config.log.url, 'kafka://broker:9092')
  assert.equal(config.dispatcher.enabled, true)
  assert.equal(config.dispatcher.concurrency, 32, 'Vigil\'s own variables apply alongside')
  assert.equal(config.dispatcher.errorsTopic, 'errors')
  assert.equal(config.dispatcher.api.url, 'http://backend:8000/api')
  assert.equal(config.dispatcher.api.token, '***')
  assert.equal(config.log.kafka.sasl.password, '***')
  assert.doesNotMatch(result.stdout, /very-secret/)
})

test('vigil dispatcher without a token fails at start with a coded error and a hint', () => {
  const result = spawnSync(process.execPath, [main, '--log', 'embedded:/nonexistent-dir/never.db', 'dispatcher'], {
    env: { PATH: process.env.PATH ?? '', API_URL: 'http://127.0.0.1:9/api', VIGIL_SERVER_PORT: '0', VIGIL_LOGGING_LEVEL: 'silent' },
    encoding: 'utf8',
    timeout: 30_000
  })
  assert.equal(result.status, 1)
  assert.match(result.stderr, /VGL_CONFIG_INVALID: dispatcher.api.token is empty/)
  assert.match(result.stderr, /hint: Set USER_TOKEN/)
})
