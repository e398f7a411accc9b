/**
 * Loads the configuration: schema defaults < JSON file < VIGIL_* environment < CLI flags.
 * Validated once here (unknown keys and bad values rejected, naming each), then deep-frozen.
 */
import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject } from 'ajv'
import { configSchema, type VigilConfig } from './schema.ts'
import { VigilError } from '../errors.ts'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type JsonObject = { [key: string]: Json }

interface SchemaNode {
  type?: string
  properties?: Record<string, SchemaNode>
  description?: string
  default?: unknown
  secret?: boolean
  anyOf?: SchemaNode[]
  const?: unknown
  items?: SchemaNode
}

const ajv = new Ajv({ strict: true, allErrors: true, useDefaults: true, strictTypes: false })
ajv.addKeyword({ keyword: 'secret', schemaType: 'boolean' })
const validate = ajv.compile<VigilConfig>(configSchema)

export interface ConfigLeaf {
  /** Dotted path, e.g. `log.kafka.sasl.password`. */
  path: string
  env: string
  schema: SchemaNode
}

/** `log.kafka.clientId` → `VIGIL_LOG_KAFKA_CLIENT_ID`. */
export function envNameOf (path: string): string {
  return 'VIGIL_' + path.split('.').map(s => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')
}

/** Every settable key of the schema; arrays (like `topics`) are leaves set from JSON text. */
export function configLeaves (node: SchemaNode = configSchema as unknown as SchemaNode, prefix = ''): ConfigLeaf[] {
  if (node.type === 'object' && node.properties !== undefined) {
    return Object.entries(node.properties).flatMap(([key, child]) => configLeaves(child, prefix === '' ? key : `${prefix}.${key}`))
  }
  return [{ path: prefix, env: envNameOf(prefix), schema: node }]
}

const leaves = configLeaves()
const leafByEnv = new Map(leaves.map(leaf => [leaf.env, leaf]))
const leafByPath = new Map(leaves.map(leaf => [leaf.path, leaf]))

/** Environment variables that are about Vigil but are not config keys. */
const reservedEnv = new Set(['VIGIL_CONFIG'])

export interface LoadConfigOptions {
  /** Path of a JSON config file. */
  file?: string | undefined
  /** Usually process.env; only VIGIL_* names are read. */
  env?: Record<string, string | undefined>
  /** Dotted path → value, from CLI flags (e.g. `{ 'log.url': 'kafka://…', 'server.port': 9090 }`). */
  overrides?: Record<string, unknown>
}

export function loadConfig (options: LoadConfigOptions = {}): Readonly<VigilConfig> {
  const raw: JsonObject = options.file === undefined ? {} : readConfigFile(options.file)
  for (const [name, text] of Object.entries(options.env ?? {})) {
    if (!name.startsWith('VIGIL_') || text === undefined || reservedEnv.has(name)) continue
    const leaf = leafByEnv.get(name)
    if (leaf === undefined) {
      throw new VigilError('VGL_CONFIG_UNKNOWN_ENV', `environment variable ${name} is not a configuration key`, { variable: name })
    }
    setPath(raw, leaf.path, coerceEnv(leaf, text))
  }
  for (const [path, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue
    if (!leafByPath.has(path)) throw new VigilError('VGL_CONFIG_INVALID', `unknown configuration key ${path}`, { key: path })
    setPath(raw, path, value as Json)
  }
  return validateConfig(raw)
}

/** Validates a whole config object (applying defaults) and freezes it. */
export function validateConfig (raw: unknown): Readonly<VigilConfig> {
  const candidate = structuredClone(raw ?? {})
  if (!validate(candidate)) {
    const problems = (validate.errors ?? []).map(describeAjvError).filter(problem => problem !== '')
    throw new VigilError('VGL_CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`, { problems })
  }
  return deepFreeze(candidate)
}

/** The config with every secret replaced, safe to print or log. */
export function redactConfig (config: Readonly<VigilConfig>): unknown {
  const copy = structuredClone(config) as unknown as JsonObject
  for (const leaf of leaves) {
    if (leaf.schema.secret !== true) continue
    const value = getPath(copy, leaf.path)
    if (Array.isArray(value)) setPath(copy, leaf.path, value.map(() => '***'))
    else if (value !== '' && value !== undefined) setPath(copy, leaf.path, '***')
  }
  return copy
}

function readConfigFile (file: string): JsonObject {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new VigilError('VGL_CONFIG_FILE_UNREADABLE', `cannot read config file ${file}: ${(cause as Error).message}`, { file, cause })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (cause) {
    throw new VigilError('VGL_CONFIG_FILE_UNREADABLE', `config file ${file} is not valid JSON: ${(cause as Error).message}`, { file, cause })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new VigilError('VGL_CONFIG_FILE_UNREADABLE', `config file ${file} must hold a JSON object`, { file })
  }
  return parsed as JsonObject
}

function coerceEnv (leaf: ConfigLeaf, text: string): Json {
  const type = leaf.schema.type ?? (leaf.schema.anyOf !== undefined ? typeof leaf.schema.anyOf[0]?.const : 'string')
  const fail = (expected: string): never => {
    throw new VigilError('VGL_CONFIG_INVALID', `${leaf.env} must be ${expected}, got ${JSON.stringify(text)}`, { key: leaf.path, variable: leaf.env })
  }
  switch (type) {
    case 'integer':
    case 'number': {
      const n = Number(text)
      return text.trim() === '' || !Number.isFinite(n) ? fail('a number') : n
    }
    case 'boolean':
      if (/^(true|1|yes)$/i.test(text)) return true
      if (/^(false|0|no)$/i.test(text)) return false
      return fail('true or false')
    case 'array':
    case 'object':
      try { return JSON.parse(text) as Json } catch { return fail('JSON text') }
    default:
      return text
  }
}

function describeAjvError (error: ErrorObject): string {
  const path = error.instancePath === '' ? '(root)' : error.instancePath.slice(1).replaceAll('/', '.')
  if (error.keyword === 'additionalProperties') {
    const key = (error.params as { additionalProperty: string }).additionalProperty
    return `unknown key ${path === '(root)' ? key : `${path}.${key}`}`
  }
  if (error.keyword === 'anyOf') {
    const leaf = leafByPath.get(path)
    const allowed = leaf?.schema.anyOf?.map(s => JSON.stringify(s.const)).join(', ')
    return `${path} must be one of ${allowed ?? 'the allowed values'}`
  }
  if (error.keyword === 'const' || (error.keyword === 'type' && error.schemaPath.includes('anyOf'))) return ''
  return `${path} ${error.message ?? 'is invalid'}`
}

function setPath (target: JsonObject, path: string, value: Json): void {
  const parts = path.split('.')
  let node = target
  for (const part of parts.slice(0, -1)) {
    const next = node[part]
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {}
    node = node[part] as JsonObject
  }
  node[parts[parts.length - 1] as string] = value
}

function getPath (target: JsonObject, path: string): unknown {
  let node: unknown = target
  for (const part of path.split('.')) node = (node as Record<string, unknown> | undefined)?.[part]
  return node
}

function deepFreeze<T> (value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
