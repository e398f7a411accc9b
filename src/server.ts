/**
 * `vigil serve`: one HTTP port, one log, and the components that run on it (schema registry,
 * pipelines …). The HTTP server starts at once so /healthz answers and /readyz says why Vigil
 * is not ready; the log is connected in the background with backoff, and components start once
 * it is. Shutdown runs in reverse: stop taking requests, stop components (they finish in-flight
 * work and commit), close the log.
 */
import type { FastifyInstance } from 'fastify'
import type { VigilConfig } from './config/schema.ts'
import { VigilError, isVigilError } from './errors.ts'
import { createAccessControl, tlsEnabled } from './access/index.ts'
import { buildApp, type AppPlugin } from './http/app.ts'
import { createLog } from './log/open.ts'
import type { Log } from './log/types.ts'
import { createLogger, type Logger } from './logger.ts'
import { createMetrics, type Metrics } from './metrics.ts'

export interface ServerComponent {
  readonly name: string
  /** Registered before the server listens; routes should answer 503 until start() has finished. */
  readonly routes?: AppPlugin
  /** Runs once the log is connected and the configured topics exist. */
  start? (log: Log): Promise<void>
  /** Finishes in-flight work and commits; called in reverse order of start. */
  stop? (): Promise<void>
  /** null when ready, else the reason (shown by /readyz). */
  readiness? (): string | null
}

export interface ServerContext {
  config: Readonly<VigilConfig>
  logger: Logger
  metrics: Metrics
}

export type ComponentFactory = (context: ServerContext) => ServerComponent | Promise<ServerComponent>

export interface StartServerOptions {
  logger?: Logger
  components?: ComponentFactory[]
}

export interface VigilServer {
  /** e.g. http://127.0.0.1:8080 (https:// with server.tls) */
  readonly url: string
  readonly app: FastifyInstance
  readonly log: Log
  readonly metrics: Metrics
  /** Resolves once the log is connected and every component started. */
  readonly ready: Promise<void>
  close (): Promise<void>
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '::1', '[::1]'])

export async function startServer (config: Readonly<VigilConfig>, options: StartServerOptions = {}): Promise<VigilServer> {
  const logger = options.logger ?? createLogger(config)
  const access = createAccessControl({ config, logger })
  if (!loopbackHosts.has(config.server.host) && access.open) {
    throw new VigilError('VGL_CONFIG_INVALID', `server.host is ${config.server.host}, not a loopback address, and no credentials are configured (server.apiTokens, access.principals, access.tokenFile): the API would be open to the network`, {
      key: 'access.principals',
      hint: 'Create a token with `vigil access create-token --name <who> --role admin` and put its entry in access.principals or access.tokenFile, or listen on 127.0.0.1.'
    })
  }
  const metrics = createMetrics()
  const context: ServerContext = { config, logger, metrics }
  const components = await Promise.all((options.components ?? []).map(factory => factory(context)))
  const log = createLog(config)

  let logProblem: string | null = `connecting to ${log.url}`
  const started: ServerComponent[] = []
  const stopping = new AbortController()

  const app = await buildApp({
    config,
    logger,
    metrics,
    access,
    plugins: components.flatMap(c => c.routes === undefined ? [] : [c.routes]),
    readiness: {
      async check () {
        const checks: Record<string, string | null> = { log: logProblem }
        if (logProblem === null) {
          try {
            await withTimeout(log.ping(), 2000, 'log ping timed out')
            metrics.logUp.set(1)
          } catch (error) {
            metrics.logUp.set(0)
            checks.log = describe(error)
          }
        }
        for (const component of components) {
          checks[component.name] = started.includes(component) ? (component.readiness?.() ?? null) : 'not started'
        }
        return checks
      }
    }
  })
  await app.listen({ host: config.server.host, port: config.server.port })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port
  const host = config.server.host.includes(':') && !config.server.host.startsWith('[') ? `[${config.server.host}]` : config.server.host
  const url = `${tlsEnabled(config.server.tls) ? 'https' : 'http'}://${host}:${port}`
  logger.info({ url, log: log.url }, 'vigil serving')

  const ready = (async () => {
    for (let attempt = 1; !stopping.signal.aborted; attempt++) {
      try {
        await log.connect()
        break
      } catch (error) {
        logProblem = describe(error)
        const waitMs = Math.min(5000, 100 * 2 ** attempt)
        logger.warn({ code: isVigilError(error) ? error.code : undefined, attempt, retryInMs: waitMs }, `log not reachable: ${logProblem}`)
        await sleep(waitMs, stopping.signal)
      }
    }
    if (stopping.signal.aborted) return
    warnOfUnkeptReplication(log, config.topics, logger)
    for (const topic of config.topics) {
      // A topic the cluster refuses (replication 3 on one broker) is a config problem: /readyz
      // names the topic and the broker's reason instead of "connecting" forever. Retried with
      // backoff, since a cluster that is still electing its controller refuses for a while too.
      for (let attempt = 1; !stopping.signal.aborted; attempt++) {
        try {
          await log.admin.ensureTopic(topic)
          break
        } catch (error) {
          logProblem = `topic ${topic.name} (config.topics) cannot be created: ${describe(error)}`
          const waitMs = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6))
          logger[attempt === 1 ? 'error' : 'warn']({ code: isVigilError(error) ? error.code : undefined, topic: topic.name, attempt, retryInMs: waitMs }, logProblem)
          await sleep(waitMs, stopping.signal)
        }
      }
    }
    if (stopping.signal.aborted) return
    logProblem = null
    metrics.logUp.set(1)
    await access.start(log)
    for (const component of components) {
      if (stopping.signal.aborted) return
      await component.start?.(log)
      started.push(component)
    }
    logger.info({ components: started.map(c => c.name) }, 'vigil ready')
  })()
  ready.catch(error => logger.error({ err: error }, `start-up failed: ${describe(error)}`))

  let closed: Promise<void> | undefined
  return {
    url,
    app,
    log,
    metrics,
    ready,
    close () {
      closed ??= (async () => {
        stopping.abort()
        await app.close()
        for (const component of [...started].reverse()) {
          try {
            await component.stop?.()
          } catch (error) {
            logger.error({ err: error, component: component.name }, 'component failed to stop cleanly')
          }
        }
        await access.stop()
        await log.close()
        logger.info('vigil stopped')
      })()
      return closed
    }
  }
}

/** The embedded log keeps one copy of everything: said once, at start, for the topics that ask for more. */
function warnOfUnkeptReplication (log: Log, topics: Readonly<VigilConfig>['topics'], logger: Logger): void {
  if (log.kind !== 'embedded') return
  const asking = topics.filter(t => (t.replicationFactor ?? 1) > 1)
  if (asking.length === 0) return
  logger.warn({ topics: asking.map(t => `${t.name} (replicationFactor ${t.replicationFactor ?? 1})`) },
    `the embedded log keeps one copy of each partition: replicationFactor is ignored for ${asking.map(t => t.name).join(', ')} (use a Kafka cluster for replicas)`)
}

function describe (error: unknown): string {
  return isVigilError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error)
}

/** Resolves after `ms`, or at once when the signal aborts. */
function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
  })
}

async function withTimeout<T> (promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(message)), ms) })])
  } finally {
    clearTimeout(timer)
  }
}
