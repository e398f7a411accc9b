/**
 * The schema registry as a `vigil serve` component: the Confluent REST routes under
 * schemaRegistry.pathPrefix (default /registry; 503 until the registry has read `_schemas`), the
 * registry started once the log is connected (Vigil's own schemas registered then), and
 * readiness for /readyz. With schemaRegistry.url set, no routes are served: the serde and
 * produce-side validation use the external registry.
 *
 * Other components reach the serde and the validator through `services()` once started.
 */
import type { ServerComponent, ServerContext } from '../server.ts'
import { openSchemaRegistry, type SchemaServices } from './index.ts'
import { registryRoutes } from './registry-routes.ts'

export interface SchemaRegistryComponentOptions {
  /** Replication factor of `_schemas` when Vigil creates it on Kafka (default 1). */
  replicationFactor?: number
}

export function createSchemaRegistryComponent (context: ServerContext, options: SchemaRegistryComponentOptions = {}): ServerComponent & { services (): SchemaServices | undefined } {
  const { config } = context
  const logger = context.logger.child({ component: 'schema-registry' })
  let services: SchemaServices | undefined
  const local = config.schemaRegistry.url === ''
  return {
    name: 'schema-registry',
    services: () => services,
    ...(local
      ? { routes: { plugin: registryRoutes as never, options: { registry: () => services?.local }, prefix: config.schemaRegistry.pathPrefix } }
      : {}),
    async start (log) {
      const opened = await openSchemaRegistry(config, log, options.replicationFactor === undefined ? {} : { replicationFactor: options.replicationFactor })
      for (const result of opened.builtin) {
        if ('error' in result) logger.warn({ code: result.error.code, subject: result.subject, file: result.file }, `built-in schema not registered: ${result.error.message}`)
      }
      services = opened
      logger.info({ registry: local ? `${config.schemaRegistry.pathPrefix} (on ${config.schemaRegistry.topic})` : 'external', builtin: opened.builtin.filter(r => 'id' in r).length, boundTopics: config.schemaRegistry.topicSubjects.length }, 'schema registry started')
    },
    async stop () {
      await services?.close()
    },
    readiness: () => services === undefined ? (local ? 'reading _schemas' : 'starting') : null
  }
}
