/**
 * Error codes of the audit area: ingestion (CAIPE-compatible /v1/audit/events), queries, the
 * archiver and its stores (local NDJSON.gz, S3 Parquet), checkpoints and `vigil audit verify`.
 *
 * CAIPE's clients read `{"detail": …}` bodies, so the audit routes answer these codes in that
 * shape (with `code` and `hint` added), not in Vigil's usual error shape.
 */
export const auditErrors = {
  VGL_AUDIT_PAYLOAD_INVALID: {
    summary: 'POST /v1/audit/events got a body that is not an event object, an array of objects or {"events": […]}.',
    hint: 'Send one event object, an array of event objects, or {"events": [ … ]}.',
    status: 400
  },
  VGL_AUDIT_BODY_INVALID: {
    summary: 'POST /v1/audit/events got a body that is not valid JSON, or no body at all (422 with FastAPI\'s validation list, as CAIPE answers).',
    hint: 'Send a JSON body with Content-Type: application/json.',
    status: 422
  },
  VGL_AUDIT_EVENT_INVALID: {
    summary: 'An audit event has a field of the wrong type (CAIPE answers 500 here; Vigil names the event index and field).',
    hint: 'Known fields (type, outcome, action, …) are strings or null; ts is an ISO string, an epoch number or null. The message names the event index and the field.',
    status: 400
  },
  VGL_AUDIT_QUEUE_FULL: {
    summary: 'The archiver\'s backlog (records on the audit topic not yet archived) would exceed audit.maxBacklogRecords: the whole batch is refused.',
    hint: 'Retry later; if it persists, check that the archiver is running and its store is writable (GET /v1/audit/status), or raise audit.maxBacklogRecords.',
    status: 503,
    retryable: true
  },
  VGL_AUDIT_BATCH_TOO_LARGE: {
    summary: 'POST /v1/audit/events got a batch larger than audit.maxBacklogRecords: it could never fit, so it is 413, not 503 "retry later" (CAIPE answers 503).',
    hint: 'Split the batch into batches of at most audit.maxBacklogRecords (AUDIT_SERVICE_QUEUE_MAX_SIZE) events, or raise that bound.',
    status: 413
  },
  VGL_AUDIT_NOT_READY: {
    summary: 'The audit service is not started yet (the log is still connecting) or is stopping.',
    hint: 'Wait for /readyz to answer 200.',
    status: 503,
    retryable: true
  },
  VGL_AUDIT_QUERY_INVALID: {
    summary: 'A query parameter of GET /v1/audit/events or /v1/audit/verify is invalid (time, window, range, time_resolution, cursor).',
    hint: 'Times are ISO 8601 (Z or an offset; none means UTC); window is one of 5m 15m 30m 1h 6h 12h 24h 7d; since must not be after until; the range is at most audit.read.maxDays.',
    status: 400
  },
  VGL_AUDIT_RETENTION_INVALID: {
    summary: 'PUT /v1/audit/retention got an invalid body, or was called on the local backend (its retention is audit.local.retentionDays).',
    hint: 'Send {"days": N} with N >= 0 (0 removes the lifecycle rule); only the s3 backend keeps retention as a bucket lifecycle rule.',
    status: 400
  },
  VGL_AUDIT_STORE_WRITE_FAILED: {
    summary: 'The archiver could not write a file to its store (disk full, permissions, S3 unreachable or refusing). The batch is kept on the log and retried with backoff.',
    hint: 'Fix the store (free space, permissions, bucket, credentials); nothing is dropped: offsets are committed only after the write succeeds.',
    status: 503,
    retryable: true
  },
  VGL_AUDIT_ENCODE_FAILED: {
    summary: 'An archiver encoder thread failed or stopped while it hashed, indexed and compressed a batch. The batch stays on the log and is encoded again.',
    hint: 'Nothing is dropped; if it keeps happening, the log names the error (often memory: lower audit.flushBatchSize) or set audit.encodeThreads to 0 to encode on the main thread.',
    status: 503,
    retryable: true
  },
  VGL_AUDIT_STORE_READ_FAILED: {
    summary: 'A stored audit file or object could not be read.',
    hint: 'Check the store is reachable and readable; `vigil audit verify` names damaged files.',
    status: 503,
    retryable: true
  },
  VGL_AUDIT_FILE_UNREADABLE: {
    summary: 'A stored audit file or object is damaged: not gzip, not Parquet, or its content does not decode. Queries skip it (as CAIPE skips unreadable S3 objects) and name it in `skipped_files`; `vigil audit verify` reports it.',
    hint: 'Restore the named file from a trusted copy, then run `vigil audit verify`; records the log still holds can be archived again by resetting the archiver group.',
    status: 500
  },
  VGL_AUDIT_STORE_UNAVAILABLE: {
    summary: 'The audit store failed its probe (a .write-probe file on local disk, HeadBucket on S3).',
    hint: 'Check audit.local.path is writable, or that audit.s3.bucket exists and the credentials can reach it.',
    status: 503,
    retryable: true
  },
  VGL_AUDIT_CONFIG_INVALID: {
    summary: 'The audit configuration (or a CAIPE AUDIT_SERVICE_* variable mapped onto it) is unusable.',
    hint: 'The message names the key; see docs/audit.md for the keys and their CAIPE aliases.',
    status: 500
  },
  VGL_AUDIT_SIGNING_KEY_INVALID: {
    summary: 'The Ed25519 checkpoint key (audit.checkpoint.privateKey or the key file) or a public key given to verify is not a usable Ed25519 key.',
    hint: 'Give a PKCS#8 PEM Ed25519 private key (openssl genpkey -algorithm ed25519), or leave it empty to have Vigil create audit.checkpoint.keyFile.',
    status: 500
  },
  VGL_AUDIT_TAMPERED: {
    summary: '`vigil audit verify` found modified, missing, inserted or reordered records, a bad manifest, or a checkpoint that does not match.',
    hint: 'Each finding names the file and the position; restore the named files from a trusted copy and investigate who changed them.',
    status: 409
  }
} as const
