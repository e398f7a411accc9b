/**
 * Connection options for @platformatic/kafka clients, built once from Vigil's `log.kafka` config:
 * timeouts, TLS (PEM files read at first use) and SASL. Every client Vigil creates (admin,
 * producer, one per consumer) starts from these.
 */
import { readFileSync } from 'node:fs'
import type { BaseOptions, RetryDelayGetter, SASLOptions } from '@platformatic/kafka'
import type { ConnectionOptions as TlsOptions } from 'node:tls'
import type { VigilConfig } from '../../config/schema.ts'
import { VigilError } from '../../errors.ts'

export type KafkaLogOptions = { brokers: string[] } & VigilConfig['log']['kafka']

/** Exponential backoff from 50 ms, capped, with full jitter in the upper half (never 0, never in lockstep). */
export function backoff (capMs: number): RetryDelayGetter {
  return (_client, _operation, attempt) => {
    const ceiling = Math.min(capMs, 50 * 2 ** Math.min(attempt, 10))
    return Math.round(ceiling / 2 + Math.random() * ceiling / 2)
  }
}

/** The options shared by every client; `retries` and `retryDelay` are set per client. */
export function baseClientOptions (options: KafkaLogOptions, role: string): BaseOptions {
  const base: BaseOptions = {
    clientId: role === '' ? options.clientId : `${options.clientId}-${role}`,
    bootstrapBrokers: options.brokers,
    connectTimeout: options.connectTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    timeout: options.requestTimeoutMs,
    // Topics are created explicitly (topics-as-code), never by a typo in a produce call.
    autocreateTopics: false,
    // Cluster metadata is refreshed at once when a broker says it is stale (leader moved); the
    // periodic refresh, which delays the request that triggers it, need not be every 5 s.
    metadataMaxAge: 30_000
  }
  if (options.tls.enabled) base.tls = tlsOptions(options.tls)
  if (options.sasl.mechanism !== 'none') {
    const sasl: SASLOptions = { mechanism: options.sasl.mechanism, username: options.sasl.username, password: options.sasl.password }
    base.sasl = sasl
  }
  return base
}

function tlsOptions (tls: KafkaLogOptions['tls']): TlsOptions {
  const read = (key: 'caFile' | 'certFile' | 'keyFile'): Buffer | undefined => {
    const file = tls[key]
    if (file === undefined || file === '') return undefined
    try {
      return readFileSync(file)
    } catch (cause) {
      throw new VigilError('VGL_CONFIG_INVALID', `log.kafka.tls.${key} ${file} cannot be read: ${(cause as Error).message}`, { key: `log.kafka.tls.${key}`, file, cause })
    }
  }
  const out: TlsOptions = { rejectUnauthorized: tls.rejectUnauthorized }
  const ca = read('caFile')
  const cert = read('certFile')
  const key = read('keyFile')
  if (ca !== undefined) out.ca = ca
  if (cert !== undefined) out.cert = cert
  if (key !== undefined) out.key = key
  return out
}

/** `kafka://host:port,…` with nothing secret in it. */
export function printableUrl (options: KafkaLogOptions): string {
  const flags = [options.tls.enabled ? 'tls' : '', options.sasl.mechanism === 'none' ? '' : `sasl=${options.sasl.mechanism}`].filter(f => f !== '')
  return `kafka://${options.brokers.join(',')}${flags.length > 0 ? ` (${flags.join(', ')})` : ''}`
}
