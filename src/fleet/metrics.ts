/**
 * The fleet's Prometheus metrics (prefix `vigil_fleet_`), on the server's registry. Node counts
 * are read from the state when scraped, not kept twice.
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import type { FleetState } from './state.ts'

export interface FleetMetrics {
  nodes: Gauge<'state'>
  sse: Gauge
  byReason: Gauge<'reason'>
  ingested: Counter<'kind'>
  attentionChanges: Counter
  clockEvaluations: Counter
  commandsIssued: Counter
  commandResults: Counter<'status'>
  sseDrops: Counter<'reason'>
}

const names = ['vigil_fleet_ingested_total', 'vigil_fleet_attention_changes_total', 'vigil_fleet_clock_evaluations_total', 'vigil_fleet_commands_issued_total', 'vigil_fleet_command_results_total', 'vigil_fleet_nodes', 'vigil_fleet_attention_nodes', 'vigil_fleet_sse_clients', 'vigil_fleet_sse_drops_total']

export function createFleetMetrics (registry: Registry, state: () => FleetState | undefined, sseClients: () => number): FleetMetrics {
  // One fleet per registry; a second one (tests) replaces the first one's metrics.
  for (const name of names) if (registry.getSingleMetric(name) !== undefined) registry.removeSingleMetric(name)
  const registers = [registry]
  const nodes = new Gauge({
    name: 'vigil_fleet_nodes',
    help: 'Registered nodes by state (healthy, attention).',
    labelNames: ['state'],
    registers,
    collect () {
      const summary = state()?.summary()
      this.set({ state: 'healthy' }, summary?.healthy ?? 0)
      this.set({ state: 'attention' }, summary?.attention ?? 0)
    }
  })
  const byReason = new Gauge({
    name: 'vigil_fleet_attention_nodes',
    help: 'Nodes needing attention, by reason (a node counts once per reason).',
    labelNames: ['reason'],
    registers,
    collect () {
      this.reset()
      for (const [reason, n] of Object.entries(state()?.summary().by_reason ?? {})) this.set({ reason }, n)
    }
  })
  const sse = new Gauge({ name: 'vigil_fleet_sse_clients', help: 'Clients connected to GET /api/stream.', registers, collect () { this.set(sseClients()) } })
  return {
    nodes,
    sse,
    sseDrops: new Counter({ name: 'vigil_fleet_sse_drops_total', help: 'Stream clients disconnected by the server, by reason (slow_client).', labelNames: ['reason'], registers }),
    byReason,
    ingested: new Counter({ name: 'vigil_fleet_ingested_total', help: 'Inputs accepted onto the log, by kind (heartbeat, scan, event, command-result).', labelNames: ['kind'], registers }),
    attentionChanges: new Counter({ name: 'vigil_fleet_attention_changes_total', help: 'Times a node\'s attention reasons changed.', registers }),
    commandsIssued: new Counter({ name: 'vigil_fleet_commands_issued_total', help: 'Signed commands issued (one per target node).', registers }),
    commandResults: new Counter({ name: 'vigil_fleet_command_results_total', help: 'Command results reported by agents, by status (success, failed, refused).', labelNames: ['status'], registers }),
    clockEvaluations: new Counter({ name: 'vigil_fleet_clock_evaluations_total', help: 'Nodes the attention clock re-evaluated because a deadline came.', registers })
  }
}
