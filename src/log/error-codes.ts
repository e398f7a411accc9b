export const logErrors = {
  VGL_LOG_URL_INVALID: {
    summary: 'The log URL is not of a supported form.',
    hint: 'Use embedded:<path-to-file.db> or kafka://host:port[,host:port…].',
    status: 400
  },
  VGL_LOG_UNREACHABLE: {
    summary: 'The log (its database file or the Kafka brokers) cannot be reached.',
    hint: 'For embedded, check the file path is writable; for Kafka, check the brokers are up and log.url names them.',
    status: 503,
    retryable: true
  },
  VGL_LOG_TOPIC_NOT_FOUND: {
    summary: 'The topic does not exist.',
    hint: 'Create it with `vigil topics create <name>`, or list topics with `vigil topics list`.',
    status: 404
  },
  VGL_LOG_TOPIC_EXISTS: {
    summary: 'A topic with this name already exists.',
    hint: 'Pick another name, or describe the existing topic with `vigil topics describe <name>`.',
    status: 409
  },
  VGL_LOG_TOPIC_INVALID: {
    summary: 'A topic name or topic configuration value is invalid.',
    hint: 'Topic names use [a-zA-Z0-9._-] (at most 249 characters); the message names the bad setting.',
    status: 400
  },
  VGL_LOG_PARTITION_INVALID: {
    summary: 'The partition does not exist in the topic.',
    hint: 'Partitions are numbered from 0 to partitions-1; `vigil topics describe <name>` shows them.',
    status: 400
  },
  VGL_LOG_RECORD_TOO_LARGE: {
    summary: 'A record is larger than the topic\'s maxMessageBytes.',
    hint: 'Make the record smaller, or raise the topic\'s maxMessageBytes.',
    status: 413
  },
  VGL_LOG_GROUP_NOT_FOUND: {
    summary: 'The consumer group does not exist.',
    hint: 'List groups with `vigil groups list`.',
    status: 404
  },
  VGL_LOG_GROUP_INVALID: {
    summary: 'A consumer was created without a group name.',
    hint: 'Pass a non-empty group: members of one group split the partitions and share committed offsets.',
    status: 400
  },
  VGL_LOG_NOT_ASSIGNED: {
    summary: 'A commit or seek named a partition this consumer does not own (it was reassigned in a rebalance).',
    hint: 'Drop the records of revoked partitions; the new owner reads them from the last committed offset.',
    status: 409,
    retryable: false
  },
  VGL_LOG_RECORD_INVALID: {
    summary: 'A produced record is malformed: its key, value or a header value is not a Buffer, or its timestamp is not a number.',
    hint: 'Pass keys, values and header values as Buffer (or null for key and value), and timestamps as milliseconds since the epoch.',
    status: 400
  },
  VGL_LOG_OFFSET_INVALID: {
    summary: 'An offset given to commit() or seek() is not a whole number >= 0.',
    hint: 'Commit the offset of the last handled record + 1; seek to an offset from 0 to the high offset.',
    status: 400
  },
  VGL_LOG_NOT_CONNECTED: {
    summary: 'The log was used before connect() resolved.',
    hint: 'Await log.connect() once before producing, reading or consuming; this is a programming error in the caller.',
    status: 500
  },
  VGL_LOG_POLL_IN_PROGRESS: {
    summary: 'poll() was called on a consumer while another poll() of the same consumer was still running.',
    hint: 'Await each poll() before the next one; use one consumer per concurrent reader.',
    status: 500
  },
  VGL_LOG_CLOSED: {
    summary: 'The log or consumer was used after close().',
    hint: 'Open a new one; this is a programming error in the caller.',
    status: 500
  },
  VGL_LOG_AUTH_FAILED: {
    summary: 'The Kafka brokers refused the credentials or the TLS handshake.',
    hint: 'Check log.kafka.sasl (mechanism, username, password) and log.kafka.tls.',
    status: 503
  },
  VGL_LOG_NOT_AUTHORIZED: {
    summary: 'The Kafka brokers authenticated the client but refused the operation (ACLs).',
    hint: 'Grant the principal in log.kafka.sasl.username the ACLs it needs on the topic or group named in the message.',
    status: 403
  },
  VGL_LOG_BACKEND_ERROR: {
    summary: 'The log backend failed in an unexpected way.',
    hint: 'The cause is attached; if it persists, report it with the log lines around it.',
    status: 500,
    retryable: true
  }
} as const
