/**
 * The audit service's Prometheus metrics (prefix `vigil_audit_`), on the server's registry.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export interface AuditMetrics {
  accepted: Counter
  rejected: Counter<'reason'>
  dropped: Counter
  backlog: Gauge
  flushes: Counter<'store'>
  flushedRecords: Counter<'store'>
  flushFailures: Counter<'store'>
  flushDuration: Histogram<'store'>
  retentionDeleted: Counter<'store'>
  checkpoints: Counter<'store'>
  verifications: Counter<'result'>
  queries: Histogram<'store'>
  querySkippedFiles: Counter<'store'>
}

export function createAuditMetrics (registry: Registry): AuditMetrics {
  const registers = [registry]
  // One audit service per registry; a second one (tests) replaces the first one's metrics.
  for (const name of ['vigil_audit_events_accepted_total', 'vigil_audit_events_rejected_total', 'vigil_audit_events_filtered_total', 'vigil_audit_backlog_records', 'vigil_audit_flushes_total',
    'vigil_audit_flushed_records_total', 'vigil_audit_flush_failures_total', 'vigil_audit_flush_duration_seconds', 'vigil_audit_retention_deleted_files_total',
    'vigil_audit_checkpoints_total', 'vigil_audit_verifications_total', 'vigil_audit_query_duration_seconds', 'vigil_audit_query_skipped_files_total']) {
    if (registry.getSingleMetric(name) !== undefined) registry.removeSingleMetric(name)
  }
  return {
    accepted: new Counter({ name: 'vigil_audit_events_accepted_total', help: 'Audit events acknowledged (202) after they were durable on the log.', registers }),
    rejected: new Counter({ name: 'vigil_audit_events_rejected_total', help: 'Audit events refused, by reason (queue_full, invalid, not_ready, log_error).', labelNames: ['reason'], registers }),
    dropped: new Counter({ name: 'vigil_audit_events_filtered_total', help: 'Audit events dropped by the verbosity preset before the log.', registers }),
    backlog: new Gauge({ name: 'vigil_audit_backlog_records', help: 'Records on the audit topic not yet archived (the archiver group\'s lag plus what was produced since it was measured).', registers }),
    flushes: new Counter({ name: 'vigil_audit_flushes_total', help: 'Batches the archiver wrote durably, by store.', labelNames: ['store'], registers }),
    flushedRecords: new Counter({ name: 'vigil_audit_flushed_records_total', help: 'Records the archiver wrote durably, by store.', labelNames: ['store'], registers }),
    flushFailures: new Counter({ name: 'vigil_audit_flush_failures_total', help: 'Failed batch writes, by store (each is retried with backoff, never dropped).', labelNames: ['store'], registers }),
    flushDuration: new Histogram({ name: 'vigil_audit_flush_duration_seconds', help: 'Time to write one batch durably, by store.', labelNames: ['store'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers }),
    retentionDeleted: new Counter({ name: 'vigil_audit_retention_deleted_files_total', help: 'Files deleted by local retention.', labelNames: ['store'], registers }),
    checkpoints: new Counter({ name: 'vigil_audit_checkpoints_total', help: 'Signed checkpoints written, by store.', labelNames: ['store'], registers }),
    verifications: new Counter({ name: 'vigil_audit_verifications_total', help: 'Verifications run through GET /v1/audit/verify, by result (ok, tampered).', labelNames: ['result'], registers }),
    queries: new Histogram({ name: 'vigil_audit_query_duration_seconds', help: 'Time to answer GET /v1/audit/events, by store.', labelNames: ['store'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers }),
    querySkippedFiles: new Counter({ name: 'vigil_audit_query_skipped_files_total', help: 'Damaged files or objects queries skipped (named in the answer\'s skipped_files and the error log), by store.', labelNames: ['store'], registers })
  }
}
