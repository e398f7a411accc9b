/**
 * Error codes of pipelines (the runtime, its classification of handler failures) and of dead
 * letters and redrive. Whether a failure is retried is decided by `retryable` here.
 */
export const pipelineErrors = {
  VGL_PIPELINE_TRANSIENT: {
    summary: 'A handler reported a transient failure (it may succeed if tried again).',
    hint: 'The pipeline retries it with backoff; if retries run out it is dead-lettered and can be redriven with `vigil dlq redrive` once the cause is fixed.',
    status: 503,
    retryable: true
  },
  VGL_PIPELINE_PERMANENT: {
    summary: 'A handler reported a permanent failure (trying again cannot help).',
    hint: 'The record is dead-lettered at once; fix the record or the target, then redrive it with `vigil dlq redrive`.',
    status: 422
  },
  VGL_PIPELINE_HANDLER_FAILED: {
    summary: 'A handler threw an unclassified error.',
    hint: 'It is treated as transient and retried; throw transientError()/permanentError() from the handler to classify it.',
    status: 500,
    retryable: true
  },
  VGL_PIPELINE_HANDLER_TIMEOUT: {
    summary: 'A handler did not finish within pipelines.handlerTimeoutMs.',
    hint: 'It is retried; raise pipelines.handlerTimeoutMs if the work is legitimately slow, or find why the handler hangs.',
    status: 504,
    retryable: true
  },
  VGL_PIPELINE_PROGRAMMER_ERROR: {
    summary: 'A handler failed with a programming error (TypeError, RangeError, ReferenceError …).',
    hint: 'It is never retried: the record is dead-lettered and the stack is logged at ERROR. Fix the handler, then redrive.',
    status: 500
  },
  VGL_PIPELINE_DECODE_FAILED: {
    summary: 'A record\'s value could not be decoded (not JSON, not Confluent-framed Avro, unknown schema id, empty).',
    hint: 'The record is dead-lettered with its bytes unchanged; `vigil dlq show <id>` prints them.',
    status: 400
  },
  VGL_PIPELINE_VALIDATION_FAILED: {
    summary: 'A decoded record does not have the shape its handler needs (a missing or invalid field).',
    hint: 'The message names the field; fix the producer and redrive the dead letter.',
    status: 400
  },
  VGL_PIPELINE_NO_ROUTE: {
    summary: 'No handler is registered for the record\'s route (for example its event_type).',
    hint: 'The record is dead-lettered; register a handler for that route or fix the producer, then redrive.',
    status: 422
  },
  VGL_PIPELINE_DEFINITION_INVALID: {
    summary: 'A pipeline definition passed to createPipeline() is invalid.',
    hint: 'The message names the option; see docs/pipelines.md.',
    status: 500
  },
  VGL_PIPELINE_STOPPED: {
    summary: 'The pipeline was used after stop(), or started twice.',
    hint: 'Create a new pipeline; this is a programming error in the caller.',
    status: 500
  },
  VGL_DLQ_NOT_FOUND: {
    summary: 'No dead letter has this id (dead-letter topic, partition and offset).',
    hint: 'List dead letters with `vigil dlq list` (or GET /dlq/<topic>/records); ids look like observation-dlq:0:42.',
    status: 404
  },
  VGL_DLQ_ID_INVALID: {
    summary: 'A dead-letter id is malformed.',
    hint: 'Ids are <dead-letter topic>:<partition>:<offset>, e.g. observation-dlq:0:42.',
    status: 400
  },
  VGL_DLQ_NOT_A_DEAD_LETTER: {
    summary: 'A record of the dead-letter topic lacks the vigil.dlq.* headers, so its origin is unknown.',
    hint: 'Only records written by a Vigil pipeline can be redriven; produce this one to its topic yourself.',
    status: 422
  },
  VGL_DLQ_FILTER_INVALID: {
    summary: 'A dead-letter filter is invalid (a bad time, an empty selection).',
    hint: 'Times are ISO-8601 or epoch milliseconds; name ids, a filter, or --all.',
    status: 400
  },
  VGL_DLQ_ALREADY_REDRIVEN: {
    summary: 'The dead letter was already redriven.',
    hint: 'Redrive is idempotent: the record is already back on its topic. If it failed again it has a new dead letter; redrive that one.',
    status: 409
  },
  VGL_DLQ_REDRIVE_IN_DOUBT: {
    summary: 'A previous redrive of this dead letter was interrupted: it may or may not have reached its topic.',
    hint: 'Check the original topic for a record with header vigil.redrive.from=<id>; redrive again with --force only if it is not there.',
    status: 409
  },
  VGL_DLQ_PARKED: {
    summary: 'The record failed again after pipelines.deadLetter.maxRedrives redrives, so it is parked rather than redriven in a loop.',
    hint: 'Fix the cause, then redrive it explicitly with --force; parked records are listed with `vigil dlq list --parked`.',
    status: 409
  },
  VGL_DLQ_UNAVAILABLE: {
    summary: 'The dead-letter API is not ready (the log is not connected yet).',
    hint: 'Wait for /readyz to report ready.',
    status: 503,
    retryable: true
  }
} as const
