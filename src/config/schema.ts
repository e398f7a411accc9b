/**
 * The one configuration schema. It gives the TypeScript type (VigilConfig), the defaults, the
 * validation (Ajv, strict, no unknown keys) and docs/config.md (npm run docs:gen).
 * Every leaf has a description and, where it has one, a default; units are in the key name.
 */
import { Type, type Static } from '@sinclair/typebox'

const Str = (description: string, def?: string) =>
  def === undefined ? Type.String({ description }) : Type.String({ description, default: def })
const Int = (description: string, def: number, min = 0, max?: number) =>
  Type.Integer({ description, default: def, minimum: min, ...(max === undefined ? {} : { maximum: max }) })
const Bool = (description: string, def: boolean) => Type.Boolean({ description, default: def })

const TopicSpecSchema = Type.Object({
  name: Type.String({ description: 'Topic name ([a-zA-Z0-9._-], at most 249 characters).', pattern: '^[a-zA-Z0-9._-]{1,249}$' }),
  partitions: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, description: 'Number of partitions.' })),
  replicationFactor: Type.Optional(Type.Integer({ minimum: 1, maximum: 16, description: 'Kafka only: copies of each partition (the embedded log keeps one copy and vigil serve warns at start when a topic asks for more).' })),
  retentionMs: Type.Optional(Type.Integer({ minimum: -1, description: 'Delete records older than this (ms); -1 keeps them forever.' })),
  retentionBytes: Type.Optional(Type.Integer({ minimum: -1, description: 'Per partition size limit in bytes; -1 = none.' })),
  cleanupPolicy: Type.Optional(Type.Union([Type.Literal('delete'), Type.Literal('compact')], { description: 'delete, or compact (latest value per key).' })),
  maxMessageBytes: Type.Optional(Type.Integer({ minimum: 1, description: 'Largest record accepted, in bytes.' }))
}, { additionalProperties: false })

export const configSchema = Type.Object({
  log: Type.Object({
    url: Str('Where the log lives: embedded:<file.db> (default) or kafka://host:port[,host:port…]. Also --log.', 'embedded:./data/vigil.db'),
    embedded: Type.Object({
      groupCommitMaxRecords: Int('Most records one group commit (one transaction, one fsync) takes.', 50000, 1),
      maintenanceIntervalMs: Int('How often retention and compaction run in the background (ms).', 60000, 100),
      checkpointIntervalMs: Int('How often a background thread copies committed WAL frames into the database file (ms), so that commits do not (SQLite\'s own checkpoint, inside the commit that crosses 1000 pages, stays as the fallback).', 500, 10),
      busyTimeoutMs: Int('How long to wait for another process holding the write lock (ms).', 5000, 0),
      sessionTimeoutMs: Int('A group member silent for this long loses its partitions (ms).', 10000, 100)
    }, { additionalProperties: false, default: {} }),
    kafka: Type.Object({
      clientId: Str('Client id sent to the brokers.', 'vigil'),
      connectTimeoutMs: Int('Time to connect to a broker (ms).', 5000, 100),
      requestTimeoutMs: Int('Time to wait for a broker\'s answer (ms).', 30000, 100),
      sessionTimeoutMs: Int('Consumer group session timeout (ms).', 10000, 1000),
      heartbeatIntervalMs: Int('Consumer group heartbeat interval (ms).', 1000, 100),
      tls: Type.Object({
        enabled: Bool('Connect with TLS.', false),
        caFile: Type.Optional(Str('PEM file of the CA that signed the brokers\' certificates.')),
        certFile: Type.Optional(Str('PEM client certificate, for mutual TLS.')),
        keyFile: Type.Optional(Str('PEM client key, for mutual TLS.')),
        rejectUnauthorized: Bool('Verify the brokers\' certificates.', true)
      }, { additionalProperties: false, default: {} }),
      sasl: Type.Object({
        mechanism: Type.Union([Type.Literal('none'), Type.Literal('PLAIN'), Type.Literal('SCRAM-SHA-256'), Type.Literal('SCRAM-SHA-512')],
          { description: 'SASL mechanism: none, PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.', default: 'none' }),
        username: Str('SASL user name.', ''),
        password: Type.String({ description: 'SASL password (never logged).', default: '', secret: true })
      }, { additionalProperties: false, default: {} })
    }, { additionalProperties: false, default: {} })
  }, { additionalProperties: false, default: {} }),
  server: Type.Object({
    host: Str('Address `vigil serve` listens on.', '127.0.0.1'),
    port: Int('HTTP port of `vigil serve`. Also --port.', 8080, 0, 65535),
    bodyLimitBytes: Int('Largest HTTP request body accepted (bytes).', 10 * 1024 * 1024, 1),
    shutdownTimeoutMs: Int('On SIGTERM, how long in-flight work may take before the process exits anyway (ms).', 10000, 0),
    idleHelperThreads: Bool('Run V8\'s helper threads (garbage collection, compilers) at Linux\'s SCHED_IDLE, so that requests and the log\'s commits never wait behind them for a CPU (the archiver\'s encoder threads always run so). Costs 4–9% of ingestion under sustained full load (the GC helpers wait too); false favours that throughput. Needs util-linux\'s chrt; where it fails they get nice +10.', true),
    apiTokens: Type.Array(Type.String({ minLength: 16 }), {
      description: 'Tokens accepted as "Authorization: Bearer <token>" (or as the password of Basic auth). When empty, the API is open, which is only allowed while server.host is a loopback address. /healthz and /readyz never need a token.',
      default: [],
      secret: true
    }),
    tls: Type.Object({
      certFile: Str('PEM certificate (chain) `vigil serve` serves HTTPS with; empty serves plain HTTP. Reloaded when the file changes.', ''),
      keyFile: Str('PEM private key of certFile (never logged). Reloaded when the file changes.', ''),
      caFile: Str('PEM CA bundle that client certificates must chain to (needed when clientCertificates is not none).', ''),
      clientCertificates: Type.Union([Type.Literal('none'), Type.Literal('require-for-agents'), Type.Literal('require')], {
        description: 'Client certificates (mutual TLS): none; require-for-agents (a certificate from caFile is asked for and verified on every connection, and the agent routes refuse a request without one); require (the handshake fails without one).',
        default: 'none'
      })
    }, { additionalProperties: false, default: {} })
  }, { additionalProperties: false, default: {} }),
  access: Type.Object({
    principals: Type.Array(Type.Object({
      name: Type.String({ description: 'Who this is, as the audit trail names it.', minLength: 1, maxLength: 200 }),
      roles: Type.Array(Type.Union(['viewer', 'producer', 'operator', 'admin', 'agent'].map(r => Type.Literal(r))), { description: 'viewer, producer, operator (implies viewer), admin (implies operator), agent.', minItems: 1 }),
      tokenHash: Type.String({ description: 'The token\'s scrypt hash from `vigil access create-token` or `vigil access hash-token` (never the token itself).', pattern: '^scrypt\\$' }),
      nodeId: Type.Optional(Type.String({ description: 'For agent principals: the one node it may act for.', minLength: 1, maxLength: 200 }))
    }, { additionalProperties: false }), {
      description: 'Named principals: each token belongs to one, with its roles, stored as a scrypt hash. See docs/security.md.',
      default: []
    }),
    tokenFile: Str('JSON file of more principals ({"principals": [ … ]}, the same shape as access.principals), reloaded without a restart when it changes or on SIGHUP; a file that fails to parse keeps the previous principals. Empty: none.', ''),
    apiTokenRoles: Type.Array(Type.Union(['viewer', 'producer', 'operator', 'admin', 'agent'].map(r => Type.Literal(r))), {
      description: 'Roles of the principals server.apiTokens make (named api-token-1, api-token-2 …); every role by default, as before roles existed.',
      default: ['admin', 'producer', 'agent']
    }),
    enrolmentSecret: Type.String({ description: 'Shared secret a new node presents to POST /api/agent/enroll to obtain a token bound to its node id (never logged). Empty disables enrolment.', default: '', secret: true }),
    agentTopic: Type.String({ description: 'Compacted topic that holds the agents\' credentials (hashed) and revocations, shared by every Vigil process on the log.', default: '_vigil_agents', pattern: '^[a-zA-Z0-9._-]{1,249}$' }),
    agentRefreshIntervalMs: Int('How often a process reads enrolments and revocations other processes wrote to the agent topic (ms); its own take effect at once.', 1000, 50),
    cacheSize: Int('Verified tokens kept (by SHA-256 digest) so that scrypt runs once per token, not once per request; emptied when principals reload or a node is revoked.', 10000, 1),
    writeRateLimitPerMinute: Int('Requests per minute one principal may make to a write route (any method but GET and HEAD); beyond it, 429 with Retry-After. 0: no limit.', 60000, 0),
    maxConcurrentRequests: Int('Requests handled at once; beyond it, 503 with Retry-After (health probes excepted). 0: no limit.', 1024, 0),
    signInFailureAuditIntervalMs: Int('Failed sign-ins (401s) are written to the audit trail once per source and interval: the first at once, the rest of the interval as one event with a count, so a flood cannot fill the trail (ms).', 60000, 1000),
    selfAudit: Bool('Write every state-changing request on an operator or admin route, token reloads, enrolments, revocations and failed sign-ins to Vigil\'s own audit trail (audit.topic).', true)
  }, { additionalProperties: false, default: {} }),
  logging: Type.Object({
    level: Type.Union(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map(l => Type.Literal(l)),
      { description: 'Log level.', default: 'info' })
  }, { additionalProperties: false, default: {} }),
  schemaRegistry: Type.Object({
    url: Str('URL of an external schema registry (Confluent, Redpanda, Karapace, Apicurio ccompat, e.g. http://host:8081 or https://host/apis/ccompat/v7). Empty: Vigil serves its own, persisted in the _schemas topic of the log.', ''),
    username: Str('Basic-auth user name for the external registry (Confluent Cloud: the API key).', ''),
    password: Type.String({ description: 'Basic-auth password for the external registry (never logged).', default: '', secret: true }),
    caFile: Type.Optional(Str('PEM file of the CA that signed the external registry\'s certificate.')),
    rejectUnauthorized: Bool('Verify the external registry\'s TLS certificate.', true),
    requestTimeoutMs: Int('Time to wait for an answer from the external registry (ms).', 10000, 1),
    pathPrefix: Str('Path under which `vigil serve` mounts its own registry (clients use http://host:port<pathPrefix>).', '/registry'),
    topic: Type.String({ description: 'Compacted topic that holds the registry\'s own state.', default: '_schemas', pattern: '^[a-zA-Z0-9._-]{1,249}$' }),
    defaultCompatibility: Type.Union(['BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE', 'NONE'].map(l => Type.Literal(l)),
      { description: 'Compatibility level of the registry until one is set with PUT /config.', default: 'BACKWARD' }),
    maxSchemaBytes: Int('Largest schema text the registry accepts (bytes).', 1024 * 1024, 1),
    registerBuiltinSchemas: Bool('Register Vigil\'s own schemas (the schemas/ folder: envelope, CISO Assistant, DORA, audit, fleet) at start.', true),
    latestCacheTtlMs: Int('How long the serde trusts its cached "latest schema of a subject" before asking again (ms).', 5000, 0),
    topicSubjects: Type.Array(Type.Object({
      topic: Type.String({ description: 'Topic whose record values are checked and encoded.', pattern: '^[a-zA-Z0-9._-]{1,249}$' }),
      subject: Type.Optional(Type.String({ description: 'Subject whose latest schema records must match; default: from the strategy (<topic>-value).', minLength: 1 })),
      strategy: Type.Union([Type.Literal('TopicNameStrategy'), Type.Literal('RecordNameStrategy'), Type.Literal('TopicRecordNameStrategy')],
        { description: 'How the subject is named when `subject` is not given.', default: 'TopicNameStrategy' }),
      format: Type.Union([Type.Literal('avro'), Type.Literal('json')], { description: 'Avro (Confluent wire format) or JSON (Confluent JSON Schema wire format).', default: 'avro' })
    }, { additionalProperties: false }), {
      description: 'Topics bound to a subject: records produced to them that do not match the schema are refused before they reach the log.',
      default: []
    })
  }, { additionalProperties: false, default: {} }),
  audit: Type.Object({
    enabled: Bool('Run the audit service in `vigil serve`: the CAIPE-compatible /v1/audit routes and the archiver.', true),
    topic: Type.String({ description: 'Topic the accepted audit events are appended to (JSON records).', default: 'audit-events', pattern: '^[a-zA-Z0-9._-]{1,249}$' }),
    partitions: Int('Partitions of the audit topic when Vigil creates it; each has its own hash chain.', 3, 1, 1000),
    group: Type.String({ description: 'Consumer group of the archiver.', default: 'vigil-audit-archiver', minLength: 1 }),
    backend: Type.Union([Type.Literal('local'), Type.Literal('s3'), Type.Literal('both')],
      { description: 'Where the archiver writes: local NDJSON.gz files, S3 Parquet objects, or both (offsets are committed once every store has the batch). CAIPE: AUDIT_SERVICE_BACKEND.', default: 'local' }),
    verbosity: Str('Verbosity preset: which event types are kept (minimal, standard, il2, soc2, il5, verbose; an unknown preset keeps all). Vigil keeps every event by default, as DORA asks; CAIPE defaults to minimal. CAIPE: AUDIT_LOG_VERBOSITY.', 'verbose'),
    subjectSalt: Type.String({ description: 'Salt of the subject_hash helper: "sha256:" + sha256(salt + ":" + subject). CAIPE: AUDIT_SUBJECT_SALT.', default: 'caipe-098-audit', secret: true }),
    maxBacklogRecords: Int('Most records on the audit topic not yet archived; a batch that would go over it is refused whole with 503 {"detail":"audit queue full"}. CAIPE: AUDIT_SERVICE_QUEUE_MAX_SIZE.', 100000, 1),
    flushBatchSize: Int('The archiver writes a partition\'s batch once it holds this many records… CAIPE: AUDIT_SERVICE_FLUSH_BATCH_SIZE.', 5000, 1),
    flushIntervalMs: Int('…or this long after its first record arrived (ms). CAIPE: AUDIT_SERVICE_FLUSH_INTERVAL_SECONDS (× 1000).', 1000, 1),
    encodeThreads: Int('Worker threads that hash, index and compress the archiver\'s batches, so that ingestion keeps the event loop; 0 encodes on the event loop (which then stalls HTTP requests while a batch is encoded).', 2, 0, 64),
    retryInitialDelayMs: Int('First wait before a failed store write is retried (ms); it doubles, with jitter, up to retryMaxDelayMs. A failed write is never dropped.', 200, 1),
    retryMaxDelayMs: Int('Longest wait between retries of a failed store write (ms).', 30000, 1),
    read: Type.Object({
      defaultLimit: Int('Records a query returns when it gives no limit. CAIPE: AUDIT_SERVICE_READ_DEFAULT_LIMIT.', 1000, 1),
      maxLimit: Int('Most records one query returns. CAIPE: AUDIT_SERVICE_READ_MAX_LIMIT.', 10000, 1),
      maxDays: Int('Longest time range one query may cover (days). CAIPE: AUDIT_SERVICE_READ_MAX_DAYS.', 31, 1),
      manifestCacheMb: Int('Memory for the file manifests (with their column index) a store keeps for queries (MiB, per store). A manifest takes about 40 KB for a file of 200 records, 80 KB for 770 and 750 KB for 10,000 (measured with CAIPE-like records); a query over more files than fit reads their manifests again, which on S3 is one GET each.', 128, 1)
    }, { additionalProperties: false, default: {} }),
    local: Type.Object({
      path: Str('Root directory of the local store (<path>/YYYY/MM/DD/audit-<ts>-<12hex>.ndjson.gz). CAIPE: AUDIT_SERVICE_LOCAL_PATH.', './data/audit'),
      gzip: Bool('Compress local files (.ndjson.gz); false writes .ndjson. CAIPE: AUDIT_SERVICE_LOCAL_GZIP.', true),
      gzipLevel: Int('gzip level of local files (1 is fastest; measured in BENCHMARKS.md).', 1, 1, 9),
      retentionDays: Int('Local files whose newest record is older than this many days are deleted at start and every retentionIntervalMs; 0 keeps them forever (CAIPE cannot disable it). CAIPE: AUDIT_SERVICE_LOCAL_RETENTION_DAYS.', 1, 0),
      retentionIntervalMs: Int('How often local retention runs (ms).', 3600000, 1000),
      diskWarningPercent: Int('Disk use at which storage health is "warning". CAIPE: AUDIT_SERVICE_LOCAL_DISK_WARNING_PERCENT.', 85, 0, 100),
      diskCriticalPercent: Int('Disk use at which storage health is "down". CAIPE: AUDIT_SERVICE_LOCAL_DISK_CRITICAL_PERCENT.', 95, 0, 100)
    }, { additionalProperties: false, default: {} }),
    s3: Type.Object({
      bucket: Str('Bucket of the S3 store (required when backend is s3 or both). CAIPE: AUDIT_SERVICE_S3_BUCKET.', ''),
      prefix: Str('Key prefix (<prefix>/YYYY/MM/DD/HH/mm/audit-<ts>-<12hex>.parquet). CAIPE: AUDIT_SERVICE_S3_PREFIX.', 'audit'),
      region: Str('Region. CAIPE: AUDIT_SERVICE_S3_REGION.', 'us-east-1'),
      endpointUrl: Str('Endpoint of an S3-compatible server (MinIO, moto, S3Proxy …); empty for AWS. CAIPE: AUDIT_SERVICE_S3_ENDPOINT_URL.', ''),
      forcePathStyle: Bool('Address buckets as <endpoint>/<bucket> rather than <bucket>.<endpoint> (needed by most S3-compatible servers).', true),
      accessKeyId: Str('Access key id; empty uses the AWS SDK\'s default chain (AWS_ACCESS_KEY_ID, profiles, instance roles).', ''),
      secretAccessKey: Type.String({ description: 'Secret access key (never logged).', default: '', secret: true }),
      retentionDays: Int('Parsed for CAIPE compatibility and shown by GET /v1/audit/retention; like CAIPE, only PUT /v1/audit/retention changes the lifecycle rule. CAIPE: AUDIT_SERVICE_S3_RETENTION_DAYS.', 0, 0),
      requestTimeoutMs: Int('Longest one S3 request may take, connecting included, before it fails (ms); the SDK tries 3 times, then a failed archive write is retried with backoff and a failed query answers 503. 0 waits forever.', 30000, 0),
      listingCacheMs: Int('How long queries reuse the listing of an hour or day prefix that ended over 10 minutes ago (ms). Objects this process writes or deletes update it at once; objects other writers put in such a prefix (late records) show after at most this long. The newest prefixes are always listed. 0 lists every prefix on every query, as CAIPE does.', 60000, 0)
    }, { additionalProperties: false, default: {} }),
    checkpoint: Type.Object({
      intervalMs: Int('How often a signed checkpoint (each partition\'s chain head) is written to the stores (ms); also written at stop.', 60000, 1000),
      privateKey: Type.String({ description: 'Ed25519 private key (PKCS#8 PEM) that signs checkpoints (never logged). Empty: the key in keyFile, created on first start.', default: '', secret: true }),
      keyFile: Str('PEM file holding the Ed25519 checkpoint key when privateKey is empty; created (mode 0600) when missing. Export the public key with `vigil audit public-key`.', './data/audit-ed25519.pem')
    }, { additionalProperties: false, default: {} })
  }, { additionalProperties: false, default: {} }),
  pipelines: Type.Object({
    concurrency: Int('Records a pipeline handles at the same time. Records with the same key (or, unkeyed, the same partition) never run at once or out of order.', 16, 1, 10000),
    maxBufferedRecords: Int('Records a pipeline has polled but not finished; its partitions are paused beyond this.', 2000, 1),
    maxUncommittedPerPartition: Int('Finished records that may wait behind an unfinished one (in backoff) in the same partition before that partition is paused.', 10000, 1),
    pollMaxRecords: Int('Most records one poll returns.', 500, 1),
    pollTimeoutMs: Int('How long a poll waits for the first record (ms).', 500, 1),
    commitIntervalMs: Int('How often the offsets of finished records are committed (ms); also on revoke and stop. A crash redelivers at most this much work.', 100, 0),
    handlerTimeoutMs: Int('An attempt whose handler runs longer fails as transient and is retried (ms); 0 = no limit.', 60000, 0),
    stopTimeoutMs: Int('On stop or partition revoke, how long running records may take before they are abandoned and left for redelivery (ms).', 10000, 0),
    autoOffsetReset: Type.Union([Type.Literal('earliest'), Type.Literal('latest')], { description: 'Where a pipeline starts on a partition its group never committed.', default: 'earliest' }),
    retry: Type.Object({
      maxAttempts: Int('Attempts per record, the first included, before a transient failure is dead-lettered (1 = never retry). Permanent failures are dead-lettered at once.', 3, 1, 1000),
      initialDelayMs: Int('Wait before the first retry (ms).', 500, 0),
      multiplier: Type.Number({ description: 'Each retry waits this many times longer than the previous one.', default: 2, minimum: 1, maximum: 100 }),
      maxDelayMs: Int('Longest wait between two attempts (ms); also the wait between attempts while the target refuses the credentials (401/403).', 30000, 0),
      jitterRatio: Type.Number({ description: 'Random spread of each wait, 0 to 1 (0.2: between 80 % and 120 % of it).', default: 0.2, minimum: 0, maximum: 1 }),
      maxRetryAfterMs: Int('Longest Retry-After (of a 429 or 503) honoured; a longer one is cut to this (ms).', 300000, 0)
    }, { additionalProperties: false, default: {} }),
    deadLetter: Type.Object({
      topicSuffix: Type.String({ description: 'A pipeline\'s dead-letter topic is <source topic><topicSuffix> unless the pipeline names one.', default: '-dlq', pattern: '^[a-zA-Z0-9._-]{1,100}$' }),
      partitions: Int('Partitions of a dead-letter topic when Vigil creates it.', 1, 1, 10000),
      retentionMs: Int('Retention of a dead-letter topic when Vigil creates it (ms); -1 keeps dead letters forever.', 30 * 24 * 3600 * 1000, -1),
      maxRedrives: Int('A record that fails again after this many redrives is parked (in <dead-letter topic>-parked) instead of dead-lettered, so it cannot loop.', 3, 0, 1000)
    }, { additionalProperties: false, default: {} })
  }, { additionalProperties: false, default: {} }),
  dispatcher: Type.Object({
    enabled: Bool('Run the CISO Assistant connector in `vigil serve` (`vigil dispatcher` always runs it).', false),
    topic: Type.String({ description: 'Topic of observation messages (the dispatcher\'s hard-coded "observation").', default: 'observation', pattern: '^[a-zA-Z0-9._-]{1,249}$' }),
    group: Type.String({ description: 'Consumer group. The default is the original dispatcher\'s "my-group", so a switch resumes at its committed offsets.', default: 'my-group', minLength: 1 }),
    deadLetterTopic: Type.String({ description: 'Dead-letter topic; empty: <topic><pipelines.deadLetter.topicSuffix> (observation-dlq).', default: '', pattern: '^([a-zA-Z0-9._-]{1,249})?$' }),
    errorsTopic: Type.String({ description: 'When set, every dead letter is also written here as the original dispatcher\'s error record {"message","error"}, for tools that read it. ERRORS_TOPIC.', default: '', pattern: '^([a-zA-Z0-9._-]{1,249})?$' }),
    concurrency: Int('Observation messages handled at the same time (per-key order holds).', 16, 1, 10000),
    maxAttachmentBytes: Int('Largest attachment accepted (bytes); CISO Assistant\'s default ATTACHMENT_MAX_SIZE_MB is 50.', 50 * 1024 * 1024, 1),
    api: Type.Object({
      url: Str('Base URL of the CISO Assistant API, ending in /api. API_URL.', 'http://localhost:8000/api'),
      token: Type.String({ description: 'Personal access token, sent as "Authorization: Token <token>" (never logged). USER_TOKEN.', default: '', secret: true }),
      requestTimeoutMs: Int('Time to wait for each API answer (ms).', 30000, 1),
      verifyCertificate: Bool('Verify the API\'s TLS certificate. VERIFY_CERTIFICATE.', true),
      caFile: Type.Optional(Str('PEM file of the CA that signed the API\'s certificate.')),
      maxConnections: Int('Most connections open to the API at once.', 64, 1, 10000)
    }, { additionalProperties: false, default: {} }),
    s3: Type.Object({
      url: Str('Endpoint of the S3-compatible server attachments are read from (file_s3_bucket). S3_URL.', 'http://localhost:9000'),
      region: Str('Region used to sign S3 requests.', 'us-east-1'),
      accessKeyId: Str('S3 access key id. S3_ACCESS_KEY.', ''),
      secretAccessKey: Type.String({ description: 'S3 secret key (never logged). S3_SECRET_KEY.', default: '', secret: true }),
      requestTimeoutMs: Int('Time to wait for an S3 answer (ms).', 30000, 1)
    }, { additionalProperties: false, default: {} })
  }, { additionalProperties: false, default: {} }),
  fleet: Type.Object({
    enabled: Bool('Run the fleet command center in `vigil serve`: the VaultMesh-compatible /api/agent and /api/events routes, the projector and the attention clock.', true),
    topicPrefix: Type.String({ description: 'Fleet topics are <prefix>.heartbeats, .scans, .events and .command-results (keyed by node id).', default: 'fleet', pattern: '^[a-zA-Z0-9._-]{1,200}$' }),
    partitions: Int('Partitions of each fleet topic when Vigil creates it.', 3, 1, 1000),
    clockIntervalMs: Int('How often the attention clock wakes to re-evaluate the nodes whose next deadline has come (ms).', 1000, 10, 60000),
    nodeEventWindow: Int('Recent events kept per node.', 50, 1, 10000),
    globalEventWindow: Int('Recent events kept for the whole fleet.', 500, 1, 100000),
    maxLongPollMs: Int('Longest wait_ms an agent may ask of GET /api/agent/commands (ms).', 30000, 0, 300000),
    thresholds: Type.Object({
      heartbeatStaleS: Int('A node whose last heartbeat is older than this needs attention (heartbeat_stale), seconds.', 90, 1),
      scanStaleS: Int('A node whose last scan is older than this needs attention (scan_stale), seconds.', 7 * 24 * 3600, 1),
      incidentNearS: Int('An open incident\'s report deadline turns "near" (incident_report_near) this long before it is due, seconds.', 3600, 0)
    }, { additionalProperties: false, default: {} }),
    sse: Type.Object({
      replayEvents: Int('Stream events kept so that a client reconnecting with Last-Event-ID gets exactly what it missed.', 10000, 1, 1000000),
      maxBufferedBytes: Int('Unsent bytes a stream client may have before it is cut off (event `cutoff`) to resume with Last-Event-ID.', 1024 * 1024, 1024),
      keepAliveMs: Int('Interval of the comment pings that keep proxies from closing an idle stream (ms).', 15000, 100)
    }, { additionalProperties: false, default: {} }),
    signing: Type.Object({
      privateKeys: Type.Array(Type.String({ secret: true }), { description: 'Ed25519 private keys (PKCS#8 PEM) that sign commands (never logged); the first signs, the others stay published for rotation. Empty: the keys in keyFiles.', default: [] }),
      keyFiles: Type.Array(Type.String({ minLength: 1 }), { description: 'PEM files of the command signing keys when privateKeys is empty; the first signs and is created (mode 0600) when missing. A key file readable by group or others is refused. Export the public keys with `vigil fleet public-key`.', default: ['./data/fleet-command-ed25519.pem'] }),
      defaultTtlS: Int('A command expires this long after it is issued unless the request sets ttl_s (s).', 300, 1),
      maxTtlS: Int('Longest ttl_s an operator may ask for (s).', 86400, 1)
    }, { additionalProperties: false, default: {} }),
    policy: Type.Record(Type.String({ minLength: 1 }), Type.Object({
      commands: Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.Object({
        args: Type.Record(Type.String(), Type.Unknown(), { description: 'JSON Schema of the command\'s arguments.' })
      }, { additionalProperties: false }))
    }, { additionalProperties: false }), {
      description: 'Commands each os_profile may be sent, with a JSON Schema for the arguments of each; "*" applies to profiles not named.',
      default: {
        '*': {
          commands: {
            'run-scan': { args: { type: 'object', properties: {}, additionalProperties: false } },
            'restart-service': { args: { type: 'object', properties: { service: { type: 'string', pattern: '^[a-zA-Z0-9@._-]{1,100}$' } }, required: ['service'], additionalProperties: false } },
            'collect-logs': { args: { type: 'object', properties: { lines: { type: 'integer', minimum: 1, maximum: 10000 } }, additionalProperties: false } }
          }
        }
      }
    }),
    profiles: Type.Record(Type.String({ minLength: 1 }), Type.Object({
      heartbeatStaleS: Type.Optional(Type.Integer({ minimum: 1, description: 'heartbeat_stale threshold for this os_profile (s).' })),
      scanStaleS: Type.Optional(Type.Integer({ minimum: 1, description: 'scan_stale threshold for this os_profile (s).' })),
      incidentNearS: Type.Optional(Type.Integer({ minimum: 0, description: 'incident_report_near lead time for this os_profile (s).' }))
    }, { additionalProperties: false }), { description: 'Per os_profile overrides of fleet.thresholds, e.g. {"ArchVault": {"heartbeatStaleS": 60}}.', default: {} })
  }, { additionalProperties: false, default: {} }),
  topics: Type.Array(TopicSpecSchema, {
    description: 'Topics as code: created at start when missing (existing ones are left as they are).',
    default: []
  })
}, { additionalProperties: false })

export type VigilConfig = Static<typeof configSchema>
