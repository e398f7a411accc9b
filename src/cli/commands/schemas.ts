/**
 * `vigil schemas list|get|register|check|config|delete`: the schema registry from the terminal.
 *
 * The registry lives in `vigil serve`, so the commands talk to it over HTTP: schemaRegistry.url
 * when set (an external registry), else `http://<server.host>:<server.port><schemaRegistry.pathPrefix>`
 * with the first server.apiTokens entry as bearer token. When no external registry is configured
 * and `vigil serve` does not answer, they use the registry on the log directly (the same `_schemas`
 * topic; writes are safe alongside running servers) and say so on stderr.
 *
 * Also exported for `vigil produce --schema` and `vigil consume`: openCliSchemaServices(),
 * createSchemaEncoder() and createConsumeValueDecoder().
 */
import { readFileSync } from 'node:fs'
import { Command, Option } from 'commander'
import { VigilError, isVigilError } from '../../errors.ts'
import { RegistryClient } from '../../schema/registry-client.ts'
import { LogSchemaRegistry, checkLevelValue, parseVersion } from '../../schema/registry.ts'
import { Serde } from '../../schema/serde.ts'
import { allowedCompatibilityLevels, type SchemaRegistryApi, type SchemaType, type SubjectVersion } from '../../schema/types.ts'
import { ProduceValidator } from '../../schema/validation.ts'
import { looksLikeConfluent } from '../../schema/wire-format.ts'
import type { CommandContext } from '../context.ts'
import { printTable } from '../table.ts'

export interface CliSchemaServices {
  registry: SchemaRegistryApi
  serde: Serde
  validator: ProduceValidator
  /** Where the registry was reached: a URL, or `log:<topic>` for the direct fallback. */
  via: string
  close (): Promise<void>
}

/** How long to wait for `vigil serve` before falling back to the log (ms). */
const probeTimeoutMs = 2000

/** The registry for CLI commands: external URL, else `vigil serve`'s, else the log directly. */
export async function openCliSchemaServices (ctx: CommandContext, options: { quiet?: boolean } = {}): Promise<CliSchemaServices> {
  const config = ctx.config()
  const sr = config.schemaRegistry
  let registry: SchemaRegistryApi
  let via: string
  if (sr.url !== '') {
    const client = new RegistryClient({
      url: sr.url,
      username: sr.username,
      password: sr.password,
      caFile: sr.caFile,
      rejectUnauthorized: sr.rejectUnauthorized,
      requestTimeoutMs: sr.requestTimeoutMs
    })
    registry = client
    via = client.url
  } else {
    const host = config.server.host === '0.0.0.0' || config.server.host === '' ? '127.0.0.1' : config.server.host === '::' ? '[::1]' : config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host
    const token = config.server.apiTokens[0]
    const client = new RegistryClient({
      url: `http://${host}:${config.server.port}${sr.pathPrefix}`,
      requestTimeoutMs: sr.requestTimeoutMs,
      ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } })
    })
    const probe = new RegistryClient({ url: client.url, requestTimeoutMs: probeTimeoutMs, ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }) })
    let reachable = true
    try {
      await probe.schemaTypes()
    } catch (error) {
      if (!isVigilError(error, 'VGL_SCHEMA_REGISTRY_UNREACHABLE') && !isVigilError(error, 'VGL_SCHEMA_ROUTE_NOT_FOUND')) throw error
      reachable = false
    } finally {
      await probe.close()
    }
    if (reachable) {
      registry = client
      via = client.url
    } else {
      await client.close()
      const local = new LogSchemaRegistry({ log: await ctx.openLog(), topic: sr.topic, defaultCompatibility: checkLevelValue(sr.defaultCompatibility), maxSchemaBytes: sr.maxSchemaBytes })
      await local.start()
      registry = local
      via = `log:${sr.topic}`
      if (options.quiet !== true) ctx.stderr.write(`note: vigil serve does not answer at ${client.url}; using the registry on the log (${config.log.url}, topic ${sr.topic}) directly\n`)
    }
  }
  const serde = new Serde({ registry, latestCacheTtlMs: sr.latestCacheTtlMs })
  const validator = new ProduceValidator({ serde, registry, bindings: sr.topicSubjects })
  return { registry, serde, validator, via, close: async () => { await registry.close() } }
}

/**
 * For `vigil produce --schema <subject>`: encodes each parsed NDJSON line with the subject's
 * latest schema (Avro, or JSON Schema) into the Confluent wire format.
 */
export async function createSchemaEncoder (ctx: CommandContext, subject: string): Promise<{ schemaId: number, encode (value: unknown): Buffer, close (): Promise<void> }> {
  const services = await openCliSchemaServices(ctx)
  try {
    const encoder = await services.serde.encoderFor(subject)
    return { schemaId: encoder.schemaId, encode: encoder.encode, close: services.close }
  } catch (error) {
    await services.close()
    throw error
  }
}

/**
 * For `vigil consume`: Confluent-framed values are decoded to JSON with their schema; other
 * values are left to the plain renderer. The registry is opened at the first framed value only,
 * so plain topics never need one. A value that looks framed but does not decode is shown as it
 * is, with the error code beside it.
 */
export function createConsumeValueDecoder (ctx: CommandContext): {
  decode (value: Buffer): Promise<{ format: string, value: unknown, [extra: string]: unknown } | undefined>
  close (): Promise<void>
} {
  let services: Promise<CliSchemaServices> | undefined
  return {
    async decode (value: Buffer) {
      if (!looksLikeConfluent(value)) return undefined
      services ??= openCliSchemaServices(ctx, { quiet: true })
      try {
        const decoded = await (await services).serde.decodeToJson(value)
        return {
          format: decoded.schemaType === 'AVRO' ? 'avro' : 'json-schema',
          value: decoded.value,
          schemaId: decoded.schemaId,
          ...(decoded.subject === undefined ? {} : { subject: decoded.subject })
        }
      } catch (error) {
        if (isVigilError(error) && error.code.startsWith('VGL_SCHEMA_SERDE_')) {
          return { format: 'base64', value: value.toString('base64'), decodeError: error.code }
        }
        throw error
      }
    },
    async close () {
      await (await services?.catch(() => undefined))?.close()
    }
  }
}

interface ListOptions { deleted?: boolean, prefix?: string, json?: boolean }
interface GetOptions { version?: string, id?: string, deleted?: boolean, schemaOnly?: boolean }
interface FileOptions { type: SchemaType }
interface CheckOptions extends FileOptions { version: string }
interface ConfigOptions { level?: string, delete?: boolean }
interface DeleteOptions { version?: string, permanent?: boolean }

export function createSchemasCommand (ctx: CommandContext): Command {
  const schemas = new Command('schemas').description('The schema registry: list, read, register and check schemas; compatibility levels.')

  const withRegistry = async <T>(fn: (registry: SchemaRegistryApi) => Promise<T>): Promise<T> => {
    const services = await openCliSchemaServices(ctx)
    try {
      return await fn(services.registry)
    } finally {
      await services.close()
    }
  }
  const typeOption = () => new Option('--type <type>', 'schema type').choices(['AVRO', 'JSON']).default('AVRO')

  schemas.command('list')
    .description('List subjects with their latest version and schema id.')
    .option('--deleted', 'include soft-deleted subjects')
    .option('--prefix <prefix>', 'only subjects starting with this')
    .option('--json', 'print JSON')
    .action(async (options: ListOptions) => withRegistry(async registry => {
      const subjects = await registry.listSubjects({ deleted: options.deleted === true, ...(options.prefix === undefined ? {} : { prefix: options.prefix }) })
      const rows: Array<{ subject: string, version: number | null, id: number | null, schemaType: string | null, versions: number }> = []
      for (const subject of subjects) {
        const versions = await registry.listVersions(subject, { deleted: options.deleted === true }).catch(() => [] as number[])
        const latest = await registry.getVersion(subject, 'latest', { deleted: options.deleted === true }).catch(() => undefined)
        rows.push({ subject, version: latest?.version ?? null, id: latest?.id ?? null, schemaType: latest?.schemaType ?? null, versions: versions.length })
      }
      if (options.json === true) {
        ctx.stdout.write(JSON.stringify(rows, null, 2) + '\n')
        return
      }
      if (rows.length === 0) {
        ctx.stdout.write('no subjects\n')
        return
      }
      printTable(ctx.stdout, ['SUBJECT', 'LATEST', 'ID', 'TYPE', 'VERSIONS'], rows.map(r => [r.subject, r.version ?? '-', r.id ?? '-', r.schemaType ?? '-', r.versions]))
    }))

  schemas.command('get [subject]')
    .description('Print a schema: the latest version of a subject, one --version, or one --id.')
    .option('--version <version>', 'a version number, or latest', 'latest')
    .option('--id <id>', 'a schema id (no subject needed)')
    .option('--deleted', 'also find soft-deleted versions')
    .option('--schema-only', 'print only the schema itself')
    .action(async (subject: string | undefined, options: GetOptions) => withRegistry(async registry => {
      let found: Omit<SubjectVersion, 'subject' | 'version'> & { subject?: string, version?: number }
      if (options.id !== undefined) {
        const id = parseId(options.id)
        const byId = await registry.getSchemaById(id)
        found = { id, schema: byId.schema, schemaType: byId.schemaType }
      } else {
        if (subject === undefined) throw new VigilError('VGL_CLI_USAGE', 'give a subject, or --id <id>', { flag: 'subject' })
        found = await registry.getVersion(subject, cliVersion(options.version ?? 'latest'), { deleted: options.deleted === true })
      }
      const schema = JSON.parse(found.schema) as unknown
      ctx.stdout.write(JSON.stringify(options.schemaOnly === true ? schema : { ...found, schema }, null, 2) + '\n')
    }))

  schemas.command('register <subject> <file>')
    .description('Register the schema in <file> (.avsc, or JSON Schema with --type JSON) under <subject>; idempotent.')
    .addOption(typeOption())
    .action(async (subject: string, file: string, options: FileOptions) => withRegistry(async registry => {
      const schema = readSchemaFile(file)
      const { id } = await registry.register(subject, { schema, schemaType: options.type })
      const version = await registry.lookup(subject, { schema, schemaType: options.type }).then(v => v.version, () => undefined)
      ctx.stdout.write(`registered ${subject}${version === undefined ? '' : ` version ${version}`} with schema id ${id}\n`)
    }))

  schemas.command('check <subject> <file>')
    .description('Check that the schema in <file> may be registered under <subject> (exit code 1 when not).')
    .addOption(typeOption())
    .option('--version <version>', 'check against this version, latest, or all', 'all')
    .action(async (subject: string, file: string, options: CheckOptions) => withRegistry(async registry => {
      const schema = readSchemaFile(file)
      const version = options.version === 'all' ? 'all' as const : cliVersion(options.version)
      const level = await registry.getConfig(subject, { defaultToGlobal: true })
      const result = await registry.checkCompatibility(subject, version, { schema, schemaType: options.type })
      if (result.isCompatible) {
        ctx.stdout.write(`compatible: ${file} may be registered under ${subject} (${level}, against ${version === 'all' ? 'the versions the level checks' : `version ${version}`})\n`)
        return
      }
      throw new VigilError('VGL_SCHEMA_INCOMPATIBLE', `${file} is incompatible with ${subject} under ${level}:\n  ${result.messages.join('\n  ')}`, { subject, compatibility: level })
    }))

  schemas.command('config [subject]')
    .description('Show or set (--level) the compatibility level, of a subject or of the whole registry.')
    .addOption(new Option('--level <level>', 'set this level').choices([...allowedCompatibilityLevels]))
    .option('--delete', 'remove the subject\'s own level (it then follows the global one)')
    .action(async (subject: string | undefined, options: ConfigOptions) => withRegistry(async registry => {
      const scope = subject ?? null
      if (options.level !== undefined && options.delete === true) throw new VigilError('VGL_CLI_USAGE', 'give --level or --delete, not both', { flag: '--delete' })
      if (options.delete === true) {
        const previous = await registry.deleteConfig(scope)
        ctx.stdout.write(`${subject ?? 'global'}: removed ${previous}; now ${await registry.getConfig(scope, { defaultToGlobal: true })}\n`)
        return
      }
      if (options.level !== undefined) {
        const level = await registry.setConfig(scope, checkLevelValue(options.level))
        ctx.stdout.write(`${subject ?? 'global'}: compatibility ${level}\n`)
        return
      }
      if (scope === null) {
        ctx.stdout.write(`global: compatibility ${await registry.getConfig(null)}\n`)
        return
      }
      try {
        ctx.stdout.write(`${subject as string}: compatibility ${await registry.getConfig(scope)}\n`)
      } catch (error) {
        if (!isVigilError(error, 'VGL_SCHEMA_SUBJECT_CONFIG_NOT_FOUND')) throw error
        ctx.stdout.write(`${subject as string}: compatibility ${await registry.getConfig(null)} (the global level; the subject has none of its own)\n`)
      }
    }))

  schemas.command('delete <subject>')
    .description('Soft-delete a subject (or one --version); --permanent removes what was soft-deleted.')
    .option('--version <version>', 'only this version (a number, or latest)')
    .option('--permanent', 'delete for good (after a soft delete)')
    .action(async (subject: string, options: DeleteOptions) => withRegistry(async registry => {
      const permanent = options.permanent === true
      if (options.version !== undefined) {
        const version = await registry.deleteVersion(subject, cliVersion(options.version), { permanent })
        ctx.stdout.write(`deleted ${subject} version ${version}${permanent ? ' permanently' : ''}\n`)
        return
      }
      const versions = await registry.deleteSubject(subject, { permanent })
      ctx.stdout.write(`deleted ${subject} (versions ${versions.join(', ')})${permanent ? ' permanently' : ''}\n`)
    }))

  return schemas
}

function readSchemaFile (file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (cause) {
    throw new VigilError('VGL_CLI_USAGE', `cannot read schema file ${file}: ${(cause as Error).message}`, { file, cause })
  }
}

function cliVersion (text: string): number | 'latest' {
  try {
    return parseVersion(text)
  } catch (error) {
    throw new VigilError('VGL_CLI_USAGE', `--version must be a version number or latest, got ${JSON.stringify(text)}`, { flag: '--version', cause: error })
  }
}

function parseId (text: string): number {
  if (!/^\d{1,10}$/.test(text)) throw new VigilError('VGL_CLI_USAGE', `--id must be a schema id (a whole number), got ${JSON.stringify(text)}`, { flag: '--id' })
  return Number(text)
}
