/**
 * Structured logs (pino). Secrets never reach a log line: auth headers, passwords and tokens are
 * redacted by path, and config is logged only through redactConfig().
 */
import { pino, type Logger } from 'pino'
import type { VigilConfig } from './config/schema.ts'

export type { Logger }

export const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.token',
  '*.apiTokens',
  '*.secretKey',
  '*.privateKey'
]

export function createLogger (config: Pick<VigilConfig, 'logging'>, destination?: NodeJS.WritableStream): Logger {
  const options = { level: config.logging.level, base: { service: 'vigil' }, redact: { paths: redactedPaths, censor: '***' } }
  return destination === undefined ? pino(options, pino.destination(2)) : pino(options, destination)
}
