/**
 * Picks the log backend from its URL: `embedded:<file.db>` or `kafka://host:port[,host:port…]`.
 */
import type { VigilConfig } from '../config/schema.ts'
import { VigilError } from '../errors.ts'
import type { Log } from './types.ts'
import { createEmbeddedLog } from './embedded/embedded-log.ts'
import { createKafkaLog } from './kafka/kafka-log.ts'

export type LogLocation =
  | { kind: 'embedded', path: string }
  | { kind: 'kafka', brokers: string[] }

export function parseLogUrl (url: string): LogLocation {
  if (url.startsWith('embedded:')) {
    const path = url.slice('embedded:'.length).replace(/^\/\//, '')
    if (path === '') throw new VigilError('VGL_LOG_URL_INVALID', `log URL ${url} names no file`, { url })
    return { kind: 'embedded', path }
  }
  if (url.startsWith('kafka://')) {
    const brokers = url.slice('kafka://'.length).replace(/\/$/, '').split(',').map(b => b.trim()).filter(b => b !== '')
    const bad = brokers.find(b => !/^[^:/\s]+:\d{1,5}$/.test(b))
    if (brokers.length === 0 || bad !== undefined) {
      throw new VigilError('VGL_LOG_URL_INVALID', `log URL ${url} must list brokers as host:port${bad === undefined ? '' : ` (bad: ${bad})`}`, { url })
    }
    return { kind: 'kafka', brokers }
  }
  throw new VigilError('VGL_LOG_URL_INVALID', `log URL ${url} must start with embedded: or kafka://`, { url })
}

/** Creates (but does not connect) the log that `config.log.url` names. */
export function createLog (config: Readonly<VigilConfig>): Log {
  const location = parseLogUrl(config.log.url)
  return location.kind === 'embedded'
    ? createEmbeddedLog({ path: location.path, ...config.log.embedded })
    : createKafkaLog({ brokers: location.brokers, ...config.log.kafka })
}
