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
  replicationFactor: Type.Optional(Type.Integer({ minimum: 1, maximum: 16, description: 'Kafka only: copies of each partition.' })),
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
    apiTokens: Type.Array(Type.String({ minLength: 16 }), {
      description: 'Tokens accepted as "Authorization: Bearer <token>" (or as the password of Basic auth). When empty, the API is open, which is only allowed while server.host is a loopback address. /healthz and /readyz never need a token.',
      default: [],
      secret: true
    })
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
  topics: Type.Array(TopicSpecSchema, {
    description: 'Topics as code: created at start when missing (existing ones are left as they are).',
    default: []
  })
}, { additionalProperties: false })

export type VigilConfig = Static<typeof configSchema>
