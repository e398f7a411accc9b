/**
 * The Confluent Schema Registry REST API as a Fastify 5 plugin. Mount it with a prefix
 * (`vigil serve` uses schemaRegistry.pathPrefix, default `/registry`) and clients such as
 * @kafkajs/confluent-schema-registry, Confluent's Java/Go/Python serdes or Kafka Connect use
 * `http://host:port/registry` as their registry URL.
 *
 * Inside its encapsulation the plugin owns content-type parsing (the registry's media types,
 * plain JSON and octet-stream), the not-found handler and the error handler, so every error —
 * malformed bodies included — is answered in Confluent's shape with Confluent's status:
 * `{"error_code": 40401, "message": "Subject 'x' not found."}` and never a 500 for bad input.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { VigilError, isVigilError } from '../errors.ts'
import type { RouteAccess } from '../http/roles.ts'
import { confluentErrorCodes, httpStatusOfConfluent, type SchemaErrorCode } from './error-codes.ts'
import { checkLevelValue, parseVersion, type LogSchemaRegistry } from './registry.ts'
import { isRegistryMode, type SchemaInput, type SchemaRegistryApi, type SchemaType, type SubjectVersion } from './types.ts'

export const registryContentType = 'application/vnd.schemaregistry.v1+json'

type ServedRegistry = SchemaRegistryApi & Partial<Pick<LogSchemaRegistry, 'listSchemas' | 'getSubjectsById'>>

export interface RegistryRoutesOptions {
  /** The registry, or a getter that answers undefined until it has started (routes answer 503 then). */
  registry: ServedRegistry | (() => ServedRegistry | undefined)
}

type Query = Record<string, string | undefined>
type Params = Record<string, string>

const mediaTypes = [
  'application/vnd.schemaregistry.v1+json',
  'application/vnd.schemaregistry+json',
  'application/json',
  'application/octet-stream'
]

export async function registryRoutes (app: FastifyInstance, opts: RegistryRoutesOptions): Promise<void> {
  const source = opts.registry
  const registryNow = (): ServedRegistry => {
    const registry = typeof source === 'function' ? source() : source
    if (registry === undefined) throw new VigilError('VGL_SCHEMA_REGISTRY_NOT_READY', 'The schema registry is starting: it is reading its _schemas topic')
    return registry
  }

  app.removeAllContentTypeParsers()
  const parseBody = (_request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text.trim() === '') {
      done(null, undefined)
      return
    }
    try {
      done(null, JSON.parse(text))
    } catch (cause) {
      done(new VigilError('VGL_SCHEMA_REQUEST_MALFORMED', `Unexpected character in the JSON body: ${(cause as Error).message}`, { cause }))
    }
  }
  for (const type of mediaTypes) app.addContentTypeParser(type, { parseAs: 'string' }, parseBody)
  // Clients that send no or another content type (curl -d …) get the same lenient JSON parsing.
  app.addContentTypeParser('*', { parseAs: 'string' }, parseBody)

  app.setErrorHandler((error: FastifyError, _request, reply) => sendRegistryError(reply, error))
  app.setNotFoundHandler((request, reply) => sendRegistryError(reply,
    new VigilError('VGL_SCHEMA_ROUTE_NOT_FOUND', `HTTP 404 Not Found: no registry route for ${request.method} ${request.url.split('?')[0] ?? ''}`)))

  const tags = ['schemas']
  // Reads (lookups and compatibility checks included) are viewer's; every change is admin's.
  const route = (summary: string, access: RouteAccess = 'viewer') => ({ config: { access }, schema: { tags, summary } })

  app.get('/', route('Registry root (answers {}).'), async (_request, reply) => send(reply, 200, {}))

  // Vigil has Confluent's default context only; clients that list contexts (Confluent's own
  // serdes, schema-linking tools) expect it named '.'.
  app.get('/contexts', { config: { access: 'viewer' }, schema: { tags, summary: 'Lists schema contexts: the default context "." alone.' } },
    async (_request, reply) => send(reply, 200, ['.']))

  // ---- subjects -------------------------------------------------------------------------------

  app.get('/subjects', route('Lists subjects (?deleted=true includes soft-deleted ones; ?subjectPrefix=).'), async (request, reply) => {
    const q = request.query as Query
    return send(reply, 200, await registryNow().listSubjects({ deleted: flag(q.deleted), prefix: q.subjectPrefix ?? '' }))
  })

  app.post('/subjects/:subject', route('Looks up a schema under a subject: its id and version.'), async (request, reply) => {
    const { subject } = request.params as Params
    const q = request.query as Query
    const found = await registryNow().lookup(subject as string, schemaInputOf(request.body), { deleted: flag(q.deleted) })
    return send(reply, 200, versionBody(found))
  })

  app.delete('/subjects/:subject', route('Deletes a subject (soft; ?permanent=true after a soft delete).', 'admin'), async (request, reply) => {
    const { subject } = request.params as Params
    return send(reply, 200, await registryNow().deleteSubject(subject as string, { permanent: flag((request.query as Query).permanent) }))
  })

  app.get('/subjects/:subject/versions', route('Lists the versions of a subject.'), async (request, reply) => {
    const { subject } = request.params as Params
    return send(reply, 200, await registryNow().listVersions(subject as string, { deleted: flag((request.query as Query).deleted) }))
  })

  app.post('/subjects/:subject/versions', route('Registers a schema under a subject (idempotent); answers its id.', 'admin'), async (request, reply) => {
    const { subject } = request.params as Params
    const input = schemaInputOf(request.body)
    const body = request.body as Record<string, unknown>
    const id = optionalInt(body.id, 'id')
    const version = optionalInt(body.version, 'version')
    const result = await registryNow().register(subject as string, {
      ...input,
      ...(id === undefined ? {} : { id }),
      ...(version === undefined ? {} : { version })
    })
    return send(reply, 200, { id: result.id })
  })

  app.get('/subjects/:subject/versions/:version', route('One version of a subject (a number, or latest).'), async (request, reply) => {
    const { subject, version } = request.params as Params
    const found = await registryNow().getVersion(subject as string, parseVersion(version as string), { deleted: flag((request.query as Query).deleted) })
    return send(reply, 200, versionBody(found))
  })

  app.get('/subjects/:subject/versions/:version/schema', route('The schema text of one version.'), async (request, reply) => {
    const { subject, version } = request.params as Params
    const found = await registryNow().getVersion(subject as string, parseVersion(version as string), { deleted: flag((request.query as Query).deleted) })
    return sendRaw(reply, found.schema)
  })

  app.get('/subjects/:subject/versions/:version/referencedby', route('Ids of schemas that reference this version (always empty: references are not supported).'), async (request, reply) => {
    const { subject, version } = request.params as Params
    await registryNow().getVersion(subject as string, parseVersion(version as string), { deleted: true })
    return send(reply, 200, [])
  })

  app.delete('/subjects/:subject/versions/:version', route('Deletes a version (soft; ?permanent=true after a soft delete).', 'admin'), async (request, reply) => {
    const { subject, version } = request.params as Params
    return send(reply, 200, await registryNow().deleteVersion(subject as string, parseVersion(version as string), { permanent: flag((request.query as Query).permanent) }))
  })

  // ---- schemas by id --------------------------------------------------------------------------

  app.get('/schemas', route('Lists schemas (every live version of every subject).'), async (request, reply) => {
    const q = request.query as Query
    const registry = registryNow()
    if (registry.listSchemas === undefined) return send(reply, 200, [])
    const list = await registry.listSchemas({ deleted: flag(q.deleted), latestOnly: flag(q.latestOnly), ...(q.subjectPrefix === undefined ? {} : { subjectPrefix: q.subjectPrefix }) })
    return send(reply, 200, list.map(versionBody))
  })

  app.get('/schemas/types', route('Schema types this registry supports.'), async (_request, reply) => send(reply, 200, await registryNow().schemaTypes()))

  app.get('/schemas/ids/:id', route('The schema of an id.'), async (request, reply) => {
    const found = await registryNow().getSchemaById(idOf(request.params as Params))
    return send(reply, 200, withType({ schema: found.schema }, found.schemaType))
  })

  app.get('/schemas/ids/:id/schema', route('The schema text of an id.'), async (request, reply) => {
    const found = await registryNow().getSchemaById(idOf(request.params as Params))
    return sendRaw(reply, found.schema)
  })

  app.get('/schemas/ids/:id/versions', route('Subject-version pairs that use the schema of an id.'), async (request, reply) => {
    return send(reply, 200, await registryNow().getVersionsById(idOf(request.params as Params), { deleted: flag((request.query as Query).deleted) }))
  })

  app.get('/schemas/ids/:id/subjects', route('Subjects that use the schema of an id.'), async (request, reply) => {
    const id = idOf(request.params as Params)
    const deleted = flag((request.query as Query).deleted)
    const registry = registryNow()
    const subjects = registry.getSubjectsById !== undefined
      ? await registry.getSubjectsById(id, { deleted })
      : [...new Set((await registry.getVersionsById(id, { deleted })).map(v => v.subject))]
    return send(reply, 200, subjects)
  })

  // ---- config ---------------------------------------------------------------------------------

  app.get('/config', route('Global compatibility level.'), async (_request, reply) =>
    send(reply, 200, { compatibilityLevel: await registryNow().getConfig(null) }))

  app.put('/config', route('Sets the global compatibility level.', 'admin'), async (request, reply) =>
    send(reply, 200, { compatibility: await registryNow().setConfig(null, levelOf(request.body)) }))

  app.delete('/config', route('Resets the global compatibility level to the default.', 'admin'), async (_request, reply) =>
    send(reply, 200, { compatibilityLevel: await registryNow().deleteConfig(null) }))

  app.get('/config/:subject', route('Compatibility level of a subject (?defaultToGlobal=true falls back to the global one).'), async (request, reply) => {
    const { subject } = request.params as Params
    return send(reply, 200, { compatibilityLevel: await registryNow().getConfig(subject as string, { defaultToGlobal: flag((request.query as Query).defaultToGlobal) }) })
  })

  app.put('/config/:subject', route('Sets the compatibility level of a subject.', 'admin'), async (request, reply) => {
    const { subject } = request.params as Params
    return send(reply, 200, { compatibility: await registryNow().setConfig(subject as string, levelOf(request.body)) })
  })

  app.delete('/config/:subject', route('Removes the compatibility level of a subject.', 'admin'), async (request, reply) => {
    const { subject } = request.params as Params
    return send(reply, 200, { compatibilityLevel: await registryNow().deleteConfig(subject as string) })
  })

  // ---- compatibility --------------------------------------------------------------------------

  app.post('/compatibility/subjects/:subject/versions/:version', route('Tests a schema against one version of a subject (?verbose=true lists the problems).'), async (request, reply) => {
    const { subject, version } = request.params as Params
    const result = await registryNow().checkCompatibility(subject as string, parseVersion(version as string), schemaInputOf(request.body))
    return send(reply, 200, compatibilityBody(result, flag((request.query as Query).verbose)))
  })

  app.post('/compatibility/subjects/:subject/versions', route('Tests a schema against the versions the subject\'s level names: the latest, or every one for a *_TRANSITIVE level.'), async (request, reply) => {
    const { subject } = request.params as Params
    const result = await registryNow().checkCompatibility(subject as string, 'all', schemaInputOf(request.body))
    return send(reply, 200, compatibilityBody(result, flag((request.query as Query).verbose)))
  })

  // ---- mode -----------------------------------------------------------------------------------

  app.get('/mode', route('Global mode.'), async (_request, reply) => send(reply, 200, { mode: await registryNow().getMode(null) }))

  app.put('/mode', route('Sets the global mode (READWRITE, READONLY, READONLY_OVERRIDE, IMPORT).', 'admin'), async (request, reply) =>
    send(reply, 200, { mode: await registryNow().setMode(null, modeOf(request.body), { force: flag((request.query as Query).force) }) }))

  app.get('/mode/:subject', route('Mode of a subject (?defaultToGlobal=true falls back to the global one).'), async (request, reply) => {
    const { subject } = request.params as Params
    return send(reply, 200, { mode: await registryNow().getMode(subject as string, { defaultToGlobal: flag((request.query as Query).defaultToGlobal) }) })
  })

  app.put('/mode/:subject', route('Sets the mode of a subject.', 'admin'), async (request, reply) => {
    const { subject } = request.params as Params
    return send(reply, 200, { mode: await registryNow().setMode(subject as string, modeOf(request.body), { force: flag((request.query as Query).force) }) })
  })

  app.delete('/mode/:subject', route('Removes the mode of a subject.', 'admin'), async (request, reply) => {
    const { subject } = request.params as Params
    return send(reply, 200, { mode: await registryNow().deleteMode(subject as string) })
  })
}

// ---- helpers ----------------------------------------------------------------------------------

function send (reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type(registryContentType).send(JSON.stringify(body))
}

function sendRaw (reply: FastifyReply, text: string): FastifyReply {
  return reply.code(200).type(registryContentType).send(text)
}

/** Codes whose HTTP status is not the one Confluent's error code implies. */
const statusOverrides: Record<string, number> = {
  VGL_SCHEMA_REQUEST_MALFORMED: 400,
  VGL_SCHEMA_REQUEST_UNPROCESSABLE: 422,
  VGL_SCHEMA_ROUTE_NOT_FOUND: 404,
  VGL_SCHEMA_REGISTRY_NOT_READY: 503,
  VGL_SCHEMA_REGISTRY_UNREACHABLE: 503,
  VGL_SCHEMA_REGISTRY_AUTH_FAILED: 502,
  VGL_SCHEMA_REGISTRY_ERROR: 502
}

/** Sends any error in Confluent's shape. Exported for hosts that handle errors themselves. */
export function sendRegistryError (reply: FastifyReply, error: unknown): FastifyReply {
  const { status, body } = registryErrorBody(error)
  if (status >= 500) reply.log.error({ err: error }, 'schema registry error')
  return send(reply, status, body)
}

export function registryErrorBody (error: unknown): { status: number, body: { error_code: number, message: string } } {
  if (isVigilError(error)) {
    const confluent = (confluentErrorCodes as Record<string, number | undefined>)[error.code]
    if (confluent !== undefined) {
      const status = statusOverrides[error.code] ?? httpStatusOfConfluent(confluent)
      return { status, body: { error_code: confluent, message: error.message } }
    }
    // Errors from outside the schema area (authentication, body limits …) keep their status.
    const status = error.statusCode
    return { status, body: { error_code: status === 401 ? 40101 : status === 403 ? 40301 : status, message: error.message } }
  }
  const fastifyError = error as Partial<FastifyError>
  const statusCode = fastifyError.statusCode
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, body: { error_code: 415, message: fastifyError.message ?? 'Unsupported media type' } }
    return { status: statusCode, body: { error_code: statusCode, message: fastifyError.message ?? 'Bad request' } }
  }
  return { status: 500, body: { error_code: 50001, message: 'Error in the backend data store' } }
}

function flag (value: string | undefined): boolean {
  return value === 'true' || value === '1' || value === ''
}

function bodyObject (body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) {
    throw new VigilError('VGL_SCHEMA_REQUEST_UNPROCESSABLE', 'Unrecognized request body: the body is empty; send a JSON object')
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new VigilError('VGL_SCHEMA_REQUEST_UNPROCESSABLE', 'Unrecognized request body: expected a JSON object')
  }
  return body as Record<string, unknown>
}

export function schemaInputOf (body: unknown): SchemaInput {
  const obj = bodyObject(body)
  const schema = obj.schema
  if (schema === undefined || schema === null || schema === '') throw new VigilError('VGL_SCHEMA_INVALID', 'Empty schema')
  if (typeof schema !== 'string') {
    throw new VigilError('VGL_SCHEMA_REQUEST_UNPROCESSABLE', `Unrecognized field value: "schema" must be the schema text as a JSON string, got ${Array.isArray(schema) ? 'an array' : typeof schema}`, { field: 'schema' })
  }
  const schemaType = obj.schemaType
  if (schemaType !== undefined && schemaType !== null && typeof schemaType !== 'string') {
    throw new VigilError('VGL_SCHEMA_REQUEST_UNPROCESSABLE', 'Unrecognized field value: "schemaType" must be a string', { field: 'schemaType' })
  }
  const references = obj.references
  if (references !== undefined && references !== null && !Array.isArray(references)) {
    throw new VigilError('VGL_SCHEMA_REQUEST_UNPROCESSABLE', 'Unrecognized field value: "references" must be an array', { field: 'references' })
  }
  return {
    schema,
    ...(typeof schemaType === 'string' ? { schemaType: schemaType.toUpperCase() as SchemaType } : {}),
    ...(Array.isArray(references) && references.length > 0 ? { references: references as SchemaInput['references'] & object } : {})
  }
}

function optionalInt (value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new VigilError('VGL_SCHEMA_REQUEST_UNPROCESSABLE', `Unrecognized field value: "${field}" must be an integer`, { field })
  }
  return value
}

function levelOf (body: unknown): ReturnType<typeof checkLevelValue> {
  const obj = bodyObject(body)
  return checkLevelValue(obj.compatibility ?? obj.compatibilityLevel)
}

function modeOf (body: unknown): ReturnType<typeof registryModeOf> {
  return registryModeOf(bodyObject(body).mode)
}

function registryModeOf (mode: unknown): 'READWRITE' | 'READONLY' | 'READONLY_OVERRIDE' | 'IMPORT' {
  const upper = typeof mode === 'string' ? mode.toUpperCase() : mode
  if (!isRegistryMode(upper)) {
    throw new VigilError('VGL_SCHEMA_MODE_INVALID', 'Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE, IMPORT', { mode })
  }
  return upper
}

function idOf (params: Params): number {
  const text = params.id ?? ''
  const id = /^\d{1,10}$/.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(id)) throw new VigilError('VGL_SCHEMA_ROUTE_NOT_FOUND', `HTTP 404 Not Found: ${JSON.stringify(text)} is not a schema id`)
  return id
}

function withType<T extends object> (body: T, schemaType: SchemaType): T & { schemaType?: SchemaType } {
  return schemaType === 'AVRO' ? body : { ...body, schemaType }
}

function versionBody (v: SubjectVersion): Record<string, unknown> {
  return withType({ subject: v.subject, version: v.version, id: v.id, schema: v.schema }, v.schemaType)
}

function compatibilityBody (result: { isCompatible: boolean, messages: string[] }, verbose: boolean): Record<string, unknown> {
  return verbose ? { is_compatible: result.isCompatible, messages: result.messages } : { is_compatible: result.isCompatible }
}

export type { SchemaErrorCode }
