/**
 * Test factories: a registry on a real embedded log in a temp dir, and a Fastify app with the
 * registry routes mounted under /registry, both closed by t.after().
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { validateConfig } from '../../../src/config/load.ts'
import { createLog } from '../../../src/log/open.ts'
import type { Log } from '../../../src/log/types.ts'
import { createLogSchemaRegistry, type LogSchemaRegistry, type LogSchemaRegistryOptions } from '../../../src/schema/registry.ts'
import { registryRoutes } from '../../../src/schema/registry-routes.ts'

export async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-schema-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** An embedded log on `file`; closed after the test. */
export async function openEmbeddedLog (t: TestContext, file: string): Promise<Log> {
  const log = createLog(validateConfig({ log: { url: `embedded:${file}` } }))
  await log.connect()
  t.after(() => log.close())
  return log
}

export async function createRegistry (t: TestContext, log: Log, options: Partial<LogSchemaRegistryOptions> = {}): Promise<LogSchemaRegistry> {
  const registry = await createLogSchemaRegistry({ log, maxStalenessMs: 0, ...options })
  t.after(() => registry.close())
  return registry
}

export async function createRegistryApp (t: TestContext, registry: LogSchemaRegistry, prefix = '/registry'): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(registryRoutes, { prefix, registry })
  await app.ready()
  t.after(() => app.close())
  return app
}

export const contentType = 'application/vnd.schemaregistry.v1+json'

export const userV1 = JSON.stringify({
  type: 'record',
  name: 'User',
  namespace: 'io.vigil.test',
  fields: [{ name: 'id', type: 'string' }, { name: 'age', type: 'int' }]
})

export const userV2 = JSON.stringify({
  type: 'record',
  name: 'User',
  namespace: 'io.vigil.test',
  fields: [{ name: 'id', type: 'string' }, { name: 'age', type: 'long' }, { name: 'email', type: ['null', 'string'], default: null }]
})

/** Incompatible with userV1 under BACKWARD: a new field without a default. */
export const userBad = JSON.stringify({
  type: 'record',
  name: 'User',
  namespace: 'io.vigil.test',
  fields: [{ name: 'id', type: 'string' }, { name: 'age', type: 'int' }, { name: 'country', type: 'string' }]
})
