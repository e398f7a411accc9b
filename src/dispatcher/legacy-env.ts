/**
 * The environment of CISO Assistant's dispatcher image, read by `vigil dispatcher` so that an
 * existing deployment switches by changing the image (spec §1). Each variable maps onto a Vigil
 * config key, as an override over the file and VIGIL_* variables:
 *
 * | variable | key | notes |
 * |---|---|---|
 * | API_URL | dispatcher.api.url | trailing / removed; must end in /api |
 * | USER_TOKEN | dispatcher.api.token | |
 * | VERIFY_CERTIFICATE | dispatcher.api.verifyCertificate | True/False (the original could not turn it off from env) |
 * | BOOTSTRAP_SERVERS | log.url = kafka://<servers> | unless --log is given |
 * | KAFKA_USE_AUTH | log.kafka.sasl.mechanism | True: KAFKA_SASL_MECHANISM (PLAIN by default) |
 * | KAFKA_SASL_MECHANISM | log.kafka.sasl.mechanism | PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 |
 * | KAFKA_USERNAME / KAFKA_PASSWORD | log.kafka.sasl.username / password | |
 * | KAFKA_SECURITY_PROTOCOL | log.kafka.tls.enabled | SSL or SASL_SSL turn TLS on (SSL works without SASL, unlike the original) |
 * | ERRORS_TOPIC | dispatcher.errorsTopic | dead letters are also written there as {message, error} |
 * | S3_URL / S3_ACCESS_KEY / S3_SECRET_KEY | dispatcher.s3.url / accessKeyId / secretAccessKey | |
 * | DEBUG | logging.level = debug | only "true" (any case) |
 */
import { VigilError } from '../errors.ts'

export const legacyEnvNames = [
  'API_URL', 'USER_TOKEN', 'VERIFY_CERTIFICATE', 'BOOTSTRAP_SERVERS', 'KAFKA_USE_AUTH', 'KAFKA_SASL_MECHANISM', 'KAFKA_USERNAME',
  'KAFKA_PASSWORD', 'KAFKA_SECURITY_PROTOCOL', 'ERRORS_TOPIC', 'S3_URL', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'DEBUG'
] as const

export interface LegacyEnvResult {
  /** Dotted config path → value, for loadConfig's overrides. */
  overrides: Record<string, unknown>
  /** Things an operator should know (logged at WARN, never with a secret). */
  notes: string[]
  /** Which variables were read (names only). */
  read: string[]
}

const truthy = (text: string) => /^(true|1|yes)$/i.test(text.trim())
const falsy = (text: string) => /^(false|0|no)$/i.test(text.trim())

export function legacyEnvOverrides (env: Record<string, string | undefined>, options: { logUrlGiven?: boolean } = {}): LegacyEnvResult {
  const overrides: Record<string, unknown> = {}
  const notes: string[] = []
  const read: string[] = []
  const get = (name: typeof legacyEnvNames[number]): string | undefined => {
    const value = env[name]
    if (value !== undefined) read.push(name)
    return value
  }

  const apiUrl = get('API_URL')
  if (apiUrl !== undefined && apiUrl.trim() !== '') {
    const url = apiUrl.trim().replace(/\/+$/, '')
    overrides['dispatcher.api.url'] = url
    if (!/\/api$/.test(url)) notes.push(`API_URL ${url} does not end in /api; CISO Assistant serves its API under /api (e.g. http://backend:8000/api)`)
  }
  const token = get('USER_TOKEN')
  if (token !== undefined) overrides['dispatcher.api.token'] = token.trim()
  const verify = get('VERIFY_CERTIFICATE')
  if (verify !== undefined && verify.trim() !== '') {
    if (truthy(verify)) overrides['dispatcher.api.verifyCertificate'] = true
    else if (falsy(verify)) {
      overrides['dispatcher.api.verifyCertificate'] = false
      notes.push('VERIFY_CERTIFICATE is false: the API\'s TLS certificate is not verified (the original dispatcher ignored this variable and verified anyway)')
    } else {
      throw new VigilError('VGL_CONFIG_INVALID', `VERIFY_CERTIFICATE must be True or False, got ${JSON.stringify(verify)}`, { variable: 'VERIFY_CERTIFICATE' })
    }
  }

  const servers = get('BOOTSTRAP_SERVERS')
  if (servers !== undefined && servers.trim() !== '') {
    if (options.logUrlGiven === true) notes.push('BOOTSTRAP_SERVERS is ignored: --log names the log')
    else overrides['log.url'] = `kafka://${servers.split(',').map(s => s.trim()).filter(s => s !== '').join(',')}`
  }
  const useAuth = get('KAFKA_USE_AUTH')
  const mechanism = get('KAFKA_SASL_MECHANISM')
  if (useAuth !== undefined && truthy(useAuth)) {
    const chosen = (mechanism === undefined || mechanism.trim() === '' ? 'PLAIN' : mechanism.trim()).toUpperCase()
    if (!['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'].includes(chosen)) {
      throw new VigilError('VGL_CONFIG_INVALID', `KAFKA_SASL_MECHANISM must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got ${JSON.stringify(mechanism)}`, { variable: 'KAFKA_SASL_MECHANISM' })
    }
    overrides['log.kafka.sasl.mechanism'] = chosen
    const username = get('KAFKA_USERNAME')
    const password = get('KAFKA_PASSWORD')
    if (username === undefined || username === '' || password === undefined || password === '') {
      throw new VigilError('VGL_CONFIG_INVALID', 'KAFKA_USE_AUTH is True but KAFKA_USERNAME or KAFKA_PASSWORD is missing', { variable: 'KAFKA_USERNAME' })
    }
    overrides['log.kafka.sasl.username'] = username
    overrides['log.kafka.sasl.password'] = password
  } else {
    get('KAFKA_USERNAME')
    get('KAFKA_PASSWORD')
  }
  const protocol = get('KAFKA_SECURITY_PROTOCOL')
  if (protocol !== undefined && protocol.trim() !== '') {
    const p = protocol.trim().toUpperCase()
    if (p === 'SSL' || p === 'SASL_SSL') overrides['log.kafka.tls.enabled'] = true
    else if (p === 'PLAINTEXT' || p === 'SASL_PLAINTEXT') overrides['log.kafka.tls.enabled'] = false
    else throw new VigilError('VGL_CONFIG_INVALID', `KAFKA_SECURITY_PROTOCOL must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got ${JSON.stringify(protocol)}`, { variable: 'KAFKA_SECURITY_PROTOCOL' })
  }

  const errorsTopic = get('ERRORS_TOPIC')
  if (errorsTopic !== undefined && errorsTopic.trim() !== '') overrides['dispatcher.errorsTopic'] = errorsTopic.trim()
  const s3Url = get('S3_URL')
  if (s3Url !== undefined && s3Url.trim() !== '') overrides['dispatcher.s3.url'] = s3Url.trim()
  const accessKey = get('S3_ACCESS_KEY')
  if (accessKey !== undefined) overrides['dispatcher.s3.accessKeyId'] = accessKey
  const secretKey = get('S3_SECRET_KEY')
  if (secretKey !== undefined) overrides['dispatcher.s3.secretAccessKey'] = secretKey
  const debug = get('DEBUG')
  if (debug !== undefined && debug.trim().toLowerCase() === 'true') overrides['logging.level'] = 'debug'
  return { overrides, notes, read }
}
