/**
 * The schema area's entry point for `vigil serve`, the pipelines and the CLI.
 *
 * `openSchemaRegistry(config, log)` gives the registry to use (Vigil's own on the log, or a client
 * for schemaRegistry.url), a serde over it, and produce-side validation for the topics bound in
 * schemaRegistry.topicSubjects. Mount `registryRoutes` (registry-routes.ts) with
 * `{ registry: services.local }` under schemaRegistry.pathPrefix when `services.local` is set.
 */
import type { VigilConfig } from '../config/schema.ts'
import type { Log } from '../log/types.ts'
import { registerSchemaFolder, type RegisteredFile } from './builtin-schemas.ts'
import { RegistryClient } from './registry-client.ts'
import { LogSchemaRegistry, checkLevelValue } from './registry.ts'
import { Serde } from './serde.ts'
import type { SchemaRegistryApi } from './types.ts'
import { ProduceValidator } from './validation.ts'

export interface SchemaServices {
  /** The registry every part uses: the local one, or the client for schemaRegistry.url. */
  registry: SchemaRegistryApi
  /** Vigil's own registry when schemaRegistry.url is empty (mount its routes then). */
  local: LogSchemaRegistry | undefined
  serde: Serde
  validator: ProduceValidator
  /** Outcome of registering Vigil's own schemas (empty when disabled or external). */
  builtin: RegisteredFile[]
  close (): Promise<void>
}

export interface OpenSchemaRegistryOptions {
  /** Register the schemas/ folder (default: config.schemaRegistry.registerBuiltinSchemas; never on an external registry unless true). */
  registerBuiltin?: boolean
  /** Replication factor of `_schemas` when created on Kafka. */
  replicationFactor?: number
}

export async function openSchemaRegistry (config: Readonly<VigilConfig>, log: Log, options: OpenSchemaRegistryOptions = {}): Promise<SchemaServices> {
  const sr = config.schemaRegistry
  let local: LogSchemaRegistry | undefined
  let registry: SchemaRegistryApi
  if (sr.url === '') {
    local = new LogSchemaRegistry({
      log,
      topic: sr.topic,
      defaultCompatibility: checkLevelValue(sr.defaultCompatibility),
      maxSchemaBytes: sr.maxSchemaBytes,
      ...(options.replicationFactor === undefined ? {} : { replicationFactor: options.replicationFactor })
    })
    await local.start()
    registry = local
  } else {
    registry = new RegistryClient({
      url: sr.url,
      username: sr.username,
      password: sr.password,
      caFile: sr.caFile,
      rejectUnauthorized: sr.rejectUnauthorized,
      requestTimeoutMs: sr.requestTimeoutMs
    })
  }
  const builtin = (options.registerBuiltin ?? (sr.registerBuiltinSchemas && local !== undefined))
    ? await registerSchemaFolder(registry)
    : []
  const serde = new Serde({ registry, latestCacheTtlMs: sr.latestCacheTtlMs })
  const validator = new ProduceValidator({ serde, registry, bindings: sr.topicSubjects })
  return { registry, local, serde, validator, builtin, close: async () => { await registry.close() } }
}

export { registryRoutes, registryContentType, sendRegistryError } from './registry-routes.ts'
export type { RegistryRoutesOptions } from './registry-routes.ts'
export { LogSchemaRegistry, createLogSchemaRegistry } from './registry.ts'
export { RegistryClient, createRegistryClient } from './registry-client.ts'
export { Serde, createSerde, looksLikeConfluent } from './serde.ts'
export type { DecodedRecord, Encoder, SerdeOptions, SerdeRegistry } from './serde.ts'
export { ProduceValidator, createProduceValidator } from './validation.ts'
export type { TopicSubjectBinding } from './validation.ts'
export { subjectName, allowedSubjectNameStrategies, type SubjectNameStrategy } from './subject-strategy.ts'
export { loadSchemaFolder, registerSchemaFolder, builtinSchemasDir } from './builtin-schemas.ts'
export { checkLevel, checkReaderWriter } from './compatibility.ts'
export { toJsonValue } from './avro.ts'
export * from './types.ts'

// For planning schema changes outside the registry (`vigil plan`): parse a schema and decide
// whether it may follow the versions before it under a compatibility level.
export { parseSchema } from './parse.ts'
export type { PreviousVersion } from './compatibility.ts'
