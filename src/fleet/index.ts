/**
 * The fleet command center's public face: the `vigil serve` component, the record shapes on the
 * fleet topics and the attention rules (for the CLI, the console and agents written elsewhere).
 */
export { createFleetComponent, type FleetComponentOptions, type FleetRuntime } from './component.ts'
export { fleetTopics, eventKinds, type HeartbeatRecord, type ScanRecord, type CommandResultRecord, type EventEnvelope, type FleetTopics } from './records.ts'
export { attentionReasons, evaluateAttention, incidentDeadlines, type AttentionReason, type Thresholds } from './attention.ts'
export type { AttentionChange, NodeSummary } from './state.ts'
