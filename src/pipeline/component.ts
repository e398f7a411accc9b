/**
 * Pipelines in `vigil serve` (and `vigil dispatcher`): the dead-letter HTTP API under /dlq, and
 * the CISO Assistant connector when dispatcher.enabled. Avro records are decoded with the schema
 * area's serde: the one given in the options (shared with the registry component), or one opened
 * on the log (or on schemaRegistry.url) for this component alone.
 */
import type { ServerComponent, ServerContext } from '../server.ts'
import type { Log } from '../log/types.ts'
import { looksLikeConfluent } from '../schema/wire-format.ts'
import type { Serde } from '../schema/serde.ts'
import { openSchemaRegistry, type SchemaServices } from '../schema/index.ts'
import { checkDispatcherConfig, createCisoDispatcher, deadLetterTopicOfDispatcher, type CisoDispatcher } from '../dispatcher/connector.ts'
import { DeadLetterStore, type ValueRenderer } from './dlq.ts'
import { dlqRoutes } from './routes.ts'
import { parkedTopicOf } from './runtime.ts'

export interface PipelinesComponentOptions {
  /** The serde of the schema-registry component, when it runs in the same server. */
  serde?: () => Serde | undefined
  /**
   * Register Vigil's own schemas when this component opens the registry itself (as `vigil
   * dispatcher` does, where no registry component runs). Default false: in `vigil serve` the
   * registry component registers them.
   */
  registerBuiltinSchemas?: boolean
}

export type SerdeSource = () => Promise<Serde>

/** Renders a value for `show`: Confluent-framed Avro through the serde, else JSON, text or base64. */
export function serdeRenderer (serde: SerdeSource): ValueRenderer {
  return async (value) => {
    if (!looksLikeConfluent(value)) return undefined
    try {
      const decoded = await (await serde()).decodeToJson(value)
      return { format: decoded.schemaType === 'AVRO' ? 'avro' : 'json-schema', schemaId: decoded.schemaId, subject: decoded.subject, value: decoded.value }
    } catch (error) {
      return { format: 'base64', value: value.toString('base64'), decodeError: (error as Error).message }
    }
  }
}

export function createPipelinesComponent (context: ServerContext, options: PipelinesComponentOptions = {}): ServerComponent {
  const { config, metrics } = context
  // A connector that cannot work (no token, a bad URL) stops the server before it starts.
  if (config.dispatcher.enabled) checkDispatcherConfig(config)
  const logger = context.logger.child({ component: 'pipelines' })
  let log: Log | undefined
  let store: DeadLetterStore | undefined
  let dispatcher: CisoDispatcher | undefined
  let ownSchema: Promise<SchemaServices> | undefined

  const serde: SerdeSource = async () => {
    const shared = options.serde?.()
    if (shared !== undefined) return shared
    if (log === undefined) throw new Error('the log is not connected')
    const connected = log
    ownSchema ??= openSchemaRegistry(config, connected, options.registerBuiltinSchemas === true ? {} : { registerBuiltin: false })
    return (await ownSchema).serde
  }

  const deadLetterTopics = async (): Promise<Array<{ topic: string, records: number }>> => {
    if (log === undefined) return []
    const suffix = config.pipelines.deadLetter.topicSuffix
    const names = new Set<string>()
    if (config.dispatcher.enabled) names.add(deadLetterTopicOfDispatcher(config))
    for (const name of await log.admin.listTopics()) {
      if (name.endsWith(suffix) || name.endsWith(parkedTopicOf(suffix))) names.add(name)
    }
    const out: Array<{ topic: string, records: number }> = []
    for (const topic of [...names].sort()) {
      try {
        const description = await log.admin.describeTopic(topic)
        out.push({ topic, records: description.partitions.reduce((n, p) => n + p.highOffset - p.lowOffset, 0) })
      } catch {
        out.push({ topic, records: 0 })
      }
    }
    return out
  }

  return {
    name: 'pipelines',
    routes: {
      plugin: dlqRoutes as never,
      options: { store: () => store, topics: deadLetterTopics },
      prefix: '/dlq'
    },
    async start (connected) {
      log = connected
      store = new DeadLetterStore(connected, { maxRedrives: config.pipelines.deadLetter.maxRedrives, renderValue: serdeRenderer(serde) })
      if (config.dispatcher.enabled) {
        dispatcher = createCisoDispatcher(config, connected, { logger: context.logger, registry: metrics.registry, serde: await serde() })
        await dispatcher.start()
      }
      logger.info({ dispatcher: config.dispatcher.enabled }, 'pipelines started')
    },
    async stop () {
      try {
        await dispatcher?.stop()
      } finally {
        if (ownSchema !== undefined) await (await ownSchema).close()
      }
    },
    readiness () {
      return dispatcher?.pipeline.readiness() ?? null
    }
  }
}
