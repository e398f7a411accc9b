/**
 * The server the fuzz run attacks: `vigil serve` on an embedded log in `dir`, every component,
 * and one token whose principal may call every route.
 */
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { validateConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/logger.ts'
import { startServer } from '../../src/server.ts'
import { serverComponents } from '../../src/components.ts'
import { hashToken, newToken } from '../../src/access/index.ts'

export interface FuzzTarget { url: string, token: string, logs: string[], close: () => Promise<void> }

export async function startFuzzTarget (dir: string): Promise<FuzzTarget> {
  const token = newToken()
  const config = validateConfig({
    log: { url: `embedded:${join(dir, 'vigil.db')}` },
    server: { port: 0 },
    logging: { level: 'warn' },
    access: { principals: [{ name: 'fuzzer', roles: ['admin', 'producer', 'agent'], tokenHash: await hashToken(token) }] },
    audit: { local: { path: join(dir, 'audit') }, checkpoint: { keyFile: join(dir, 'key.pem') } },
    // A long poll answers within the fuzzer's request timeout.
    fleet: { maxLongPollMs: 1000, signing: { keyFiles: [join(dir, 'fleet-key.pem')] } }
  })
  const logs: string[] = []
  const logger = createLogger(config, new Writable({ write (chunk, _e, done) { logs.push(String(chunk)); done() } }))
  const server = await startServer(config, { logger, components: serverComponents })
  await server.ready
  return { url: server.url, token, logs, close: () => server.close() }
}
