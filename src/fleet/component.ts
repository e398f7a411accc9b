/**
 * The fleet command center as a `vigil serve` component: its topics created at start, the
 * projector replaying them into the state, the attention clock, and the routes (503 until the
 * replay has caught up, so no query answers from half a fleet).
 */
import type { ServerComponent, ServerContext } from '../server.ts'
import type { Thresholds } from './attention.ts'
import { createFleetMetrics } from './metrics.ts'
import { Projector } from './projector.ts'
import { fleetTopics } from './records.ts'
import { fleetRoutes, type FleetRoutesRuntime } from './routes.ts'
import { FleetState, type AttentionChange } from './state.ts'
import { CommandPolicy } from './policy.ts'
import { CommandWaiters } from './command-waiters.ts'
import { loadSigningKeys, type SigningKeys } from './signing-keys.ts'

export interface FleetRuntime extends FleetRoutesRuntime {
  projector: Projector
}

export interface FleetComponentOptions {
  /** Told of every attention change (tests, the SSE hub). */
  onAttentionChange?: (change: AttentionChange) => void
}

export function createFleetComponent (context: ServerContext, options: FleetComponentOptions = {}): ServerComponent & { readonly runtime: () => FleetRuntime | undefined, readonly keys: () => SigningKeys | undefined } {
  const config = context.config.fleet
  if (!config.enabled) return { name: 'fleet', runtime: () => undefined, keys: () => undefined }
  const logger = context.logger.child({ component: 'fleet' })
  const topics = fleetTopics(config.topicPrefix)
  const thresholdsFor = (profile: string): Thresholds => ({ ...config.thresholds, ...config.profiles[profile] })
  let runtime: FleetRuntime | undefined
  let state: FleetState | undefined
  let clock: NodeJS.Timeout | undefined
  const metrics = createFleetMetrics(context.metrics.registry, () => state)
  // Both are checked before anything starts, so a bad key or policy stops `vigil serve` naming it.
  const keys = loadSigningKeys(config.signing)
  const policy = new CommandPolicy(config.policy)
  const waiters = new CommandWaiters()
  const ready = (): FleetRuntime | undefined => runtime?.projector.caughtUp === true ? runtime : undefined

  return {
    name: 'fleet',
    runtime: ready,
    keys: () => keys,
    routes: { plugin: fleetRoutes as never, options: { fleet: ready } },
    async start (log) {
      for (const topic of Object.values(topics)) await log.admin.ensureTopic({ name: topic, partitions: config.partitions, retentionMs: -1 })
      state = new FleetState({
        thresholdsFor,
        nodeEventWindow: config.nodeEventWindow,
        globalEventWindow: config.globalEventWindow,
        onAttentionChange: change => {
          metrics.attentionChanges.inc()
          options.onAttentionChange?.(change)
        }
      })
      const projector = new Projector({
        log,
        topics,
        state,
        logger,
        onRecord: (kind, value) => {
          if (kind === 'command') waiters.notify((value as { node_id: string }).node_id)
          else if (kind === 'command-result') metrics.commandResults.inc({ status: (value as { status: string }).status })
        }
      })
      runtime = {
        log,
        topics,
        state,
        projector,
        policy,
        keys,
        waiters,
        limits: { defaultTtlS: config.signing.defaultTtlS, maxTtlS: config.signing.maxTtlS, maxLongPollMs: config.maxLongPollMs },
        onIngest: kind => metrics.ingested.inc({ kind }),
        onCommandsIssued: n => metrics.commandsIssued.inc(n)
      }
      await projector.start()
      await projector.ready
      const tick = (): void => { metrics.clockEvaluations.inc(state!.tick(Date.now())) }
      tick()
      clock = setInterval(tick, config.clockIntervalMs)
      clock.unref()
      logger.info({ nodes: state.size, topics: Object.values(topics) }, 'fleet state replayed')
    },
    async stop () {
      clearInterval(clock)
      const projector = runtime?.projector
      runtime = undefined
      await projector?.stop()
    },
    readiness: () => ready() === undefined ? 'fleet state not replayed yet' : null
  }
}
