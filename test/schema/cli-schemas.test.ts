/**
 * `vigil schemas …`, the produce encoder and the consume decoder: against a running registry over
 * HTTP (as with `vigil serve`), and falling back to the registry on the log when none answers.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { createSchemasCommand, createConsumeValueDecoder, createSchemaEncoder, openCliSchemaServices } from '../../src/cli/commands/schemas.ts'
import type { CommandContext } from '../../src/cli/context.ts'
import { validateConfig } from '../../src/config/load.ts'
import { createLog } from '../../src/log/open.ts'
import type { Log } from '../../src/log/types.ts'
import { isVigilError } from '../../src/errors.ts'
import { createRegistry, createRegistryApp, openEmbeddedLog, tempDir, userBad, userV1, userV2 } from './helpers/registry.ts'

interface Cli {
  ctx: CommandContext
  run (...args: string[]): Promise<{ stdout: string, stderr: string }>
}

function cliFor (t: TestContext, rawConfig: Record<string, unknown>): Cli {
  const config = validateConfig(rawConfig)
  let log: Log | undefined
  const out = { stdout: '', stderr: '' }
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  stdout.on('data', (chunk: Buffer) => { out.stdout += chunk.toString() })
  stderr.on('data', (chunk: Buffer) => { out.stderr += chunk.toString() })
  const ctx: CommandContext = {
    config: () => config,
    async openLog () {
      if (log === undefined) {
        log = createLog(config)
        await log.connect()
        t.after(() => log?.close())
      }
      return log
    },
    stdin: new PassThrough(),
    stdout,
    stderr
  }
  return {
    ctx,
    async run (...args) {
      out.stdout = ''
      out.stderr = ''
      const command = createSchemasCommand(ctx)
      command.exitOverride()
      for (const sub of command.commands) sub.exitOverride()
      await command.parseAsync(args, { from: 'user' })
      await new Promise(resolve => setImmediate(resolve))
      return { ...out }
    }
  }
}

async function schemaFiles (dir: string): Promise<{ v1: string, v2: string, bad: string }> {
  const files = { v1: join(dir, 'user-v1.avsc'), v2: join(dir, 'user-v2.avsc'), bad: join(dir, 'user-bad.avsc') }
  await writeFile(files.v1, userV1)
  await writeFile(files.v2, userV2)
  await writeFile(files.bad, userBad)
  return files
}

test('vigil schemas talks to the running registry over HTTP', async (t) => {
  const dir = await tempDir(t)
  const files = await schemaFiles(dir)
  const registry = await createRegistry(t, await openEmbeddedLog(t, join(dir, 'server.db')))
  const app = await createRegistryApp(t, registry, '/registry')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const cli = cliFor(t, { log: { url: `embedded:${join(dir, 'unused.db')}` }, server: { host: '127.0.0.1', port } })

  const services = await openCliSchemaServices(cli.ctx)
  assert.equal(services.via, `http://127.0.0.1:${port}/registry`)
  await services.close()

  assert.match((await cli.run('register', 'users-value', files.v1)).stdout, /registered users-value version 1 with schema id 1/)
  assert.match((await cli.run('check', 'users-value', files.v2)).stdout, /^compatible/)
  await assert.rejects(cli.run('check', 'users-value', files.bad), (error: unknown) => {
    assert.ok(isVigilError(error, 'VGL_SCHEMA_INCOMPATIBLE'))
    assert.match(error.message, /country/)
    return true
  })
  assert.match((await cli.run('register', 'users-value', files.v2)).stdout, /version 2 with schema id 2/)
  const list = (await cli.run('list')).stdout
  assert.match(list, /SUBJECT\s+LATEST\s+ID\s+TYPE\s+VERSIONS/)
  assert.match(list, /users-value\s+2\s+2\s+AVRO\s+2/)
  assert.deepEqual(JSON.parse((await cli.run('get', 'users-value', '--version', '1', '--schema-only')).stdout), JSON.parse(userV1))
  assert.equal(JSON.parse((await cli.run('get', '--id', '2')).stdout).id, 2)
  assert.match((await cli.run('config')).stdout, /global: compatibility BACKWARD/)
  assert.match((await cli.run('config', 'users-value', '--level', 'FULL')).stdout, /users-value: compatibility FULL/)
  assert.match((await cli.run('config', 'users-value')).stdout, /users-value: compatibility FULL/)
  assert.equal(await registry.getConfig('users-value'), 'FULL', 'the server\'s registry changed')
  await assert.rejects(cli.run('get', 'nope'), { code: 'VGL_SCHEMA_SUBJECT_NOT_FOUND' })
  await assert.rejects(cli.run('register', 'x', join(dir, 'missing.avsc')), { code: 'VGL_CLI_USAGE' })
  assert.match((await cli.run('delete', 'users-value', '--version', '1')).stdout, /deleted users-value version 1/)
})

test('without a running server, vigil schemas uses the registry on the log; produce encodes and consume decodes', async (t) => {
  const dir = await tempDir(t)
  const files = await schemaFiles(dir)
  const cli = cliFor(t, { log: { url: `embedded:${join(dir, 'vigil.db')}` }, server: { host: '127.0.0.1', port: 1 } })
  const registered = await cli.run('register', 'users-value', files.v1)
  assert.match(registered.stdout, /registered users-value version 1 with schema id 1/)
  assert.match(registered.stderr, /vigil serve does not answer .* using the registry on the log/)

  const encoder = await createSchemaEncoder(cli.ctx, 'users-value')
  t.after(() => encoder.close())
  const record = encoder.encode({ id: 'u1', age: 41 })
  assert.equal(record[0], 0)

  const decoder = createConsumeValueDecoder(cli.ctx)
  t.after(() => decoder.close())
  const decode = decoder.decode
  assert.deepEqual(await decode(record), { format: 'avro', value: { id: 'u1', age: 41 }, schemaId: 1, subject: 'users-value' })
  assert.equal(await decode(Buffer.from('{"plain":"json"}')), undefined)
  const broken = await decode(Buffer.from([0, 0, 0, 0, 9, 1]))
  assert.equal(broken?.decodeError, 'VGL_SCHEMA_SERDE_UNKNOWN_ID')

  // Another process (a new CLI context) sees what was registered.
  const again = cliFor(t, { log: { url: `embedded:${join(dir, 'vigil.db')}` }, server: { host: '127.0.0.1', port: 1 } })
  assert.match((await again.run('list')).stdout, /users-value\s+1\s+1\s+AVRO\s+1/)
  await assert.rejects(createSchemaEncoder(again.ctx, 'nothing-value'), { code: 'VGL_SCHEMA_SUBJECT_NO_SCHEMA' })
})
