/**
 * Error codes of the schema area: the registry (Confluent REST semantics), the compatibility
 * checker, the serde (wire format, Avro/JSON encoding) and the client for external registries.
 *
 * Registry errors reach HTTP clients in Confluent's shape, `{"error_code": 40401, "message": …}`,
 * with Confluent's HTTP status: `confluentErrorCodes` maps each VGL code to its Confluent code, and
 * `vglCodeOfConfluent` maps back (used by the client for external registries).
 */
export const schemaErrors = {
  VGL_SCHEMA_SUBJECT_NOT_FOUND: {
    summary: 'The registry has no subject of this name (or only a soft-deleted one).',
    hint: 'List subjects with `vigil schemas list`; soft-deleted subjects show with ?deleted=true.',
    status: 404
  },
  VGL_SCHEMA_VERSION_NOT_FOUND: {
    summary: 'The subject has no version of this number.',
    hint: 'List the versions with GET /subjects/<subject>/versions, or ask for "latest".',
    status: 404
  },
  VGL_SCHEMA_NOT_FOUND: {
    summary: 'No schema has this id, or the schema is not registered under the subject.',
    hint: 'Register the schema first (`vigil schemas register <subject> <file.avsc>`), or check the id.',
    status: 404
  },
  VGL_SCHEMA_SUBJECT_SOFT_DELETED: {
    summary: 'The subject was already soft-deleted.',
    hint: 'Delete it again with ?permanent=true to remove it for good.',
    status: 404
  },
  VGL_SCHEMA_SUBJECT_NOT_SOFT_DELETED: {
    summary: 'A permanent delete was asked for a subject that was not soft-deleted first.',
    hint: 'Soft-delete it first (DELETE without ?permanent=true), then delete it permanently.',
    status: 404
  },
  VGL_SCHEMA_VERSION_SOFT_DELETED: {
    summary: 'The version was already soft-deleted.',
    hint: 'Delete it again with ?permanent=true to remove it for good.',
    status: 404
  },
  VGL_SCHEMA_VERSION_NOT_SOFT_DELETED: {
    summary: 'A permanent delete was asked for a version that was not soft-deleted first.',
    hint: 'Soft-delete the version first (DELETE without ?permanent=true), then delete it permanently.',
    status: 404
  },
  VGL_SCHEMA_SUBJECT_CONFIG_NOT_FOUND: {
    summary: 'The subject has no compatibility level of its own.',
    hint: 'Ask with ?defaultToGlobal=true to get the level that applies, or set one with PUT /config/<subject>.',
    status: 404
  },
  VGL_SCHEMA_SUBJECT_MODE_NOT_FOUND: {
    summary: 'The subject has no mode of its own.',
    hint: 'Ask with ?defaultToGlobal=true to get the mode that applies, or set one with PUT /mode/<subject>.',
    status: 404
  },
  VGL_SCHEMA_INCOMPATIBLE: {
    summary: 'The schema breaks the subject\'s compatibility level against an earlier version.',
    hint: 'The message names the field and the rule; give the new field a default, keep removed fields optional, or change the level with `vigil schemas config <subject> --level …`.',
    status: 409
  },
  VGL_SCHEMA_INVALID: {
    summary: 'The schema text is not a valid schema of its type (Avro or JSON Schema).',
    hint: 'The message names the problem; Avro schemas follow https://avro.apache.org/docs/1.11.1/specification/.',
    status: 422
  },
  VGL_SCHEMA_VERSION_INVALID: {
    summary: 'The version is not an integer between 1 and 2^31-1 nor "latest".',
    hint: 'Use a version number from GET /subjects/<subject>/versions, or "latest".',
    status: 422
  },
  VGL_SCHEMA_COMPATIBILITY_LEVEL_INVALID: {
    summary: 'The compatibility level is not one of the known levels.',
    hint: 'Use BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE.',
    status: 422
  },
  VGL_SCHEMA_MODE_INVALID: {
    summary: 'The mode is not one of the known modes.',
    hint: 'Use READWRITE, READONLY, READONLY_OVERRIDE or IMPORT.',
    status: 422
  },
  VGL_SCHEMA_OPERATION_NOT_PERMITTED: {
    summary: 'The registry or the subject is in a mode that forbids this operation (for example READONLY).',
    hint: 'Switch the mode back with PUT /mode (or /mode/<subject>) {"mode":"READWRITE"}.',
    status: 422
  },
  VGL_SCHEMA_SUBJECT_INVALID: {
    summary: 'The subject name is empty, too long or contains control characters.',
    hint: 'Use a printable name of at most 255 characters, e.g. <topic>-value.',
    status: 422
  },
  VGL_SCHEMA_TOO_LARGE: {
    summary: 'The schema text is larger than the registry accepts.',
    hint: 'Split the schema, or raise schemaRegistry.maxSchemaBytes.',
    status: 422
  },
  VGL_SCHEMA_ID_CONFLICT: {
    summary: 'In IMPORT mode, the id or version given is already taken by a different schema.',
    hint: 'Import into an empty registry, or give the id the schema already has.',
    status: 422
  },
  VGL_SCHEMA_REQUEST_MALFORMED: {
    summary: 'The request body is not valid JSON.',
    hint: 'Send a JSON body such as {"schema":"…"} with Content-Type application/vnd.schemaregistry.v1+json.',
    status: 400
  },
  VGL_SCHEMA_REQUEST_UNPROCESSABLE: {
    summary: 'The request body is JSON but lacks a field or has one of the wrong type.',
    hint: 'The message names the field; e.g. registration needs {"schema": "<schema text as a string>"}.',
    status: 422
  },
  VGL_SCHEMA_ROUTE_NOT_FOUND: {
    summary: 'No registry route matches the method and path.',
    hint: 'The registry speaks the Confluent Schema Registry REST API under its prefix (default /registry).',
    status: 404
  },
  VGL_SCHEMA_STORE_ERROR: {
    summary: 'The registry could not read or write its _schemas topic.',
    hint: 'Check that the log is reachable (`vigil doctor`); the cause is attached.',
    status: 500,
    retryable: true
  },
  VGL_SCHEMA_STORE_CONFLICT: {
    summary: 'Concurrent writers kept winning the race for the same id or version.',
    hint: 'Retry the operation; this happens only under heavy concurrent registration.',
    status: 500,
    retryable: true
  },
  VGL_SCHEMA_SERDE_UNKNOWN_ID: {
    summary: 'A record names a schema id that the registry does not know.',
    hint: 'The record was written against another registry, or its schema was permanently deleted; check schemaRegistry.url.',
    status: 400
  },
  VGL_SCHEMA_SERDE_BAD_MAGIC: {
    summary: 'A record does not start with the Confluent magic byte 0.',
    hint: 'The record was not written by a schema-registry serializer; read it as plain bytes or JSON.',
    status: 400
  },
  VGL_SCHEMA_SERDE_TRUNCATED: {
    summary: 'A record is shorter than its wire-format header or its Avro body needs.',
    hint: 'The record was cut short or is not in the Confluent wire format.',
    status: 400
  },
  VGL_SCHEMA_SERDE_MISMATCH: {
    summary: 'A record does not match its schema (a field is missing, of the wrong type, or the body has trailing bytes).',
    hint: 'The message names the field path and the expected type; fix the record or register a schema that fits it.',
    status: 400
  },
  VGL_SCHEMA_SUBJECT_NO_SCHEMA: {
    summary: 'A topic is bound to a subject that has no registered schema yet.',
    hint: 'Register a schema under the subject (`vigil schemas register <subject> <file.avsc>`) before producing.',
    status: 400
  },
  VGL_SCHEMA_REGISTRY_NOT_READY: {
    summary: 'Vigil\'s registry is still reading its _schemas topic (the log is not connected yet, or the server is starting).',
    hint: 'Retry in a moment; /readyz shows what Vigil is waiting for.',
    status: 503,
    retryable: true
  },
  VGL_SCHEMA_REGISTRY_UNREACHABLE: {
    summary: 'The schema registry at schemaRegistry.url did not answer.',
    hint: 'Check schemaRegistry.url (and that `vigil serve` runs when no external registry is set).',
    status: 503,
    retryable: true
  },
  VGL_SCHEMA_REGISTRY_AUTH_FAILED: {
    summary: 'The external schema registry refused the credentials or the TLS handshake.',
    hint: 'Check schemaRegistry.username, schemaRegistry.password, schemaRegistry.caFile and schemaRegistry.rejectUnauthorized.',
    status: 502
  },
  VGL_SCHEMA_REGISTRY_ERROR: {
    summary: 'The external schema registry answered with an error Vigil does not know.',
    hint: 'The registry\'s own error code and message are attached.',
    status: 502,
    retryable: true
  }
} as const

export type SchemaErrorCode = keyof typeof schemaErrors

/** Confluent `error_code` for each VGL code (Confluent's `Errors.java`, mirrored by Karapace). */
export const confluentErrorCodes: Readonly<Record<SchemaErrorCode, number>> = Object.freeze({
  VGL_SCHEMA_SUBJECT_NOT_FOUND: 40401,
  VGL_SCHEMA_VERSION_NOT_FOUND: 40402,
  VGL_SCHEMA_NOT_FOUND: 40403,
  VGL_SCHEMA_SUBJECT_SOFT_DELETED: 40404,
  VGL_SCHEMA_SUBJECT_NOT_SOFT_DELETED: 40405,
  VGL_SCHEMA_VERSION_SOFT_DELETED: 40406,
  VGL_SCHEMA_VERSION_NOT_SOFT_DELETED: 40407,
  VGL_SCHEMA_SUBJECT_CONFIG_NOT_FOUND: 40408,
  VGL_SCHEMA_SUBJECT_MODE_NOT_FOUND: 40409,
  VGL_SCHEMA_INCOMPATIBLE: 409,
  VGL_SCHEMA_INVALID: 42201,
  VGL_SCHEMA_VERSION_INVALID: 42202,
  VGL_SCHEMA_COMPATIBILITY_LEVEL_INVALID: 42203,
  VGL_SCHEMA_MODE_INVALID: 42204,
  VGL_SCHEMA_OPERATION_NOT_PERMITTED: 42205,
  VGL_SCHEMA_ID_CONFLICT: 42207,
  VGL_SCHEMA_SUBJECT_INVALID: 42208,
  VGL_SCHEMA_TOO_LARGE: 42209,
  VGL_SCHEMA_REQUEST_MALFORMED: 400,
  VGL_SCHEMA_REQUEST_UNPROCESSABLE: 422,
  VGL_SCHEMA_ROUTE_NOT_FOUND: 404,
  VGL_SCHEMA_STORE_ERROR: 50001,
  VGL_SCHEMA_STORE_CONFLICT: 50001,
  VGL_SCHEMA_SERDE_UNKNOWN_ID: 40403,
  VGL_SCHEMA_SERDE_BAD_MAGIC: 400,
  VGL_SCHEMA_SERDE_TRUNCATED: 400,
  VGL_SCHEMA_SERDE_MISMATCH: 400,
  VGL_SCHEMA_SUBJECT_NO_SCHEMA: 40401,
  VGL_SCHEMA_REGISTRY_NOT_READY: 50003,
  VGL_SCHEMA_REGISTRY_UNREACHABLE: 50003,
  VGL_SCHEMA_REGISTRY_AUTH_FAILED: 401,
  VGL_SCHEMA_REGISTRY_ERROR: 50001
})

/** HTTP status Confluent answers with for a given `error_code`. */
export function httpStatusOfConfluent (errorCode: number): number {
  if (errorCode >= 10000) return Math.floor(errorCode / 100)
  return errorCode
}

const reverse: Record<number, SchemaErrorCode> = {
  40401: 'VGL_SCHEMA_SUBJECT_NOT_FOUND',
  40402: 'VGL_SCHEMA_VERSION_NOT_FOUND',
  40403: 'VGL_SCHEMA_NOT_FOUND',
  40404: 'VGL_SCHEMA_SUBJECT_SOFT_DELETED',
  40405: 'VGL_SCHEMA_SUBJECT_NOT_SOFT_DELETED',
  40406: 'VGL_SCHEMA_VERSION_SOFT_DELETED',
  40407: 'VGL_SCHEMA_VERSION_NOT_SOFT_DELETED',
  40408: 'VGL_SCHEMA_SUBJECT_CONFIG_NOT_FOUND',
  40409: 'VGL_SCHEMA_SUBJECT_MODE_NOT_FOUND',
  409: 'VGL_SCHEMA_INCOMPATIBLE',
  40901: 'VGL_SCHEMA_INCOMPATIBLE',
  42201: 'VGL_SCHEMA_INVALID',
  42202: 'VGL_SCHEMA_VERSION_INVALID',
  42203: 'VGL_SCHEMA_COMPATIBILITY_LEVEL_INVALID',
  42204: 'VGL_SCHEMA_MODE_INVALID',
  42205: 'VGL_SCHEMA_OPERATION_NOT_PERMITTED',
  42207: 'VGL_SCHEMA_ID_CONFLICT',
  42208: 'VGL_SCHEMA_SUBJECT_INVALID',
  42209: 'VGL_SCHEMA_TOO_LARGE',
  400: 'VGL_SCHEMA_REQUEST_MALFORMED',
  422: 'VGL_SCHEMA_REQUEST_UNPROCESSABLE',
  404: 'VGL_SCHEMA_ROUTE_NOT_FOUND',
  401: 'VGL_SCHEMA_REGISTRY_AUTH_FAILED',
  403: 'VGL_SCHEMA_REGISTRY_AUTH_FAILED'
}

/** The VGL code for a Confluent `error_code` answered by an external registry. */
export function vglCodeOfConfluent (errorCode: number): SchemaErrorCode {
  return reverse[errorCode] ?? 'VGL_SCHEMA_REGISTRY_ERROR'
}
