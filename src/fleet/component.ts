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
import { SseHub, type StreamEvent } from './sse-hub.ts'

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
  let hub: SseHub | undefined
  const metrics = createFleetMetrics(context.metrics.registry, () => state, () => hub?.clients ?? 0)
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
          if (!projector.caughtUp) return
          const event: StreamEvent = {
            id: causing === undefined ? streamHub.clockId(change.at) : `${causing}.a`,
            name: 'attention',
            nodeId: change.nodeId,
            data: JSON.stringify({ node_id: change.nodeId, state: change.reasons.length > 0 ? 'attention' : 'healthy', reasons: change.reasons, previous: change.previous, at: new Date(change.at).toISOString() })
          }
          // An attention change a record caused follows that record's event.
          if (causing === undefined) streamHub.publish(event)
          else causedAttention.push(event)
        }
      })
      const streamHub = new SseHub({ ...config.sse, onDrop: reason => metrics.sseDrops.inc({ reason }) })
      hub = streamHub
      let causing: string | undefined
      let causedAttention: StreamEvent[] = []
      const projector = new Projector({
        log,
        topics,
        state,
        logger,
        onApplying: record => { causing = `${record.topic}.${record.partition}.${record.offset}` },
        onRecord: (kind, value) => {
          if (projector.caughtUp) {
            const v = value as { node_id?: string | null, kind?: string, nonce?: string }
            const name = kind === 'event' ? (v.kind ?? 'event') : kind === 'command-result' || kind === 'command' ? 'command' : kind
            const data = kind === 'command' ? { phase: 'issued', ...v } : kind === 'command-result' ? { phase: 'result', ...v } : v
            streamHub.publish({ id: causing!, name, nodeId: v.node_id ?? null, data: JSON.stringify(data) })
            for (const event of causedAttention) streamHub.publish(event)
          }
          causedAttention = []
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
        onCommandsIssued: n => metrics.commandsIssued.inc(n),
        hub: streamHub
      }
      await projector.start()
      await projector.ready
      const tick = (): void => {
        causing = undefined
        metrics.clockEvaluations.inc(state!.tick(Date.now()))
      }
      tick()
      clock = setInterval(tick, config.clockIntervalMs)
      clock.unref()
      logger.info({ nodes: state.size, topics: Object.values(topics) }, 'fleet state replayed')
    },
    async stop () {
      clearInterval(clock)
      hub?.close()
      const projector = runtime?.projector
      runtime = undefined
      await projector?.stop()
    },
    readiness: () => ready() === undefined ? 'fleet state not replayed yet' : null
  }
}
