/**
 * Error codes of the CISO Assistant connector. `retryable` decides whether the pipeline retries
 * a record (with backoff) or dead-letters it at once.
 */
export const dispatcherErrors = {
  VGL_DISPATCHER_HTTP_RETRYABLE: {
    summary: 'CISO Assistant answered with a status that may pass (429, 5xx).',
    hint: 'Retried with backoff, honouring Retry-After; if it persists, check the backend\'s health and logs.',
    status: 502,
    retryable: true
  },
  VGL_DISPATCHER_HTTP_REJECTED: {
    summary: 'CISO Assistant refused the request (a 4xx other than 401, 403 and 429).',
    hint: 'Not retried: the message quotes the backend\'s answer (e.g. a locked audit, a duplicate name, an invalid value). Fix it, then redrive.',
    status: 422
  },
  VGL_DISPATCHER_AUTH_FAILED: {
    summary: 'CISO Assistant refused the token (401 or 403).',
    hint: 'Check dispatcher.api.token (USER_TOKEN): it must be a valid personal access token. The connector waits and tries again rather than dead-lettering every record.',
    status: 502,
    retryable: true
  },
  VGL_DISPATCHER_NETWORK: {
    summary: 'CISO Assistant could not be reached (connection refused or reset, DNS, TLS).',
    hint: 'Retried with backoff (without limit when the API cannot be reached at all, so the backlog is not dead-lettered); check dispatcher.api.url (API_URL, which must end in /api), the network and dispatcher.api.caFile.',
    status: 502,
    retryable: true
  },
  VGL_DISPATCHER_TIMEOUT: {
    summary: 'CISO Assistant did not answer within dispatcher.api.requestTimeoutMs.',
    hint: 'Retried with backoff; raise dispatcher.api.requestTimeoutMs if the backend is slow.',
    status: 504,
    retryable: true
  },
  VGL_DISPATCHER_RESPONSE_INVALID: {
    summary: 'CISO Assistant answered with a body the connector cannot read (not the expected JSON).',
    hint: 'Check that dispatcher.api.url points at the API (it must end in /api), not at the web front end or a proxy page.',
    status: 502,
    retryable: true
  },
  VGL_DISPATCHER_MESSAGE_INVALID: {
    summary: 'An observation message is not of a supported shape (not a JSON object, no message_type/event_type, a missing field).',
    hint: 'The message names the field; see docs/pipelines.md for the formats. The record is dead-lettered.',
    status: 400
  },
  VGL_DISPATCHER_SELECTOR_INVALID: {
    summary: 'A selector is empty, has an unknown target, or uses a key CISO Assistant does not filter on.',
    hint: 'The backend silently ignores unknown filters, which would widen the match, so such keys are refused before any call. Use a filter the message names.',
    status: 400
  },
  VGL_DISPATCHER_NO_MATCH: {
    summary: 'The selector matched no object.',
    hint: 'Check the selector\'s values (ref_id, folder UUID …) against CISO Assistant; redrive once the object exists.',
    status: 404
  },
  VGL_DISPATCHER_TOO_MANY_MATCHES: {
    summary: 'The selector matched more objects than its target allows (target "single" matched several).',
    hint: 'Narrow the selector, or set "target": "multiple" to update every match.',
    status: 409
  },
  VGL_DISPATCHER_VALUES_INVALID: {
    summary: 'An update value is not allowed (an unknown field, a value outside the field\'s enum or range).',
    hint: 'The message names the field and the allowed values, taken from CISO Assistant\'s models.',
    status: 400
  },
  VGL_DISPATCHER_ATTACHMENT_INVALID: {
    summary: 'An attachment cannot be read from the message (no file_name, bad or empty base64, no source, too large).',
    hint: 'Send file_name plus file_content (standard base64) or file_s3_bucket; files are limited to dispatcher.maxAttachmentBytes.',
    status: 400
  },
  VGL_DISPATCHER_S3_NOT_FOUND: {
    summary: 'The attachment\'s S3 object (or bucket) does not exist.',
    hint: 'Check file_s3_bucket and the key (file_s3_key, else file_name); redrive once the object is uploaded.',
    status: 404
  },
  VGL_DISPATCHER_S3_DENIED: {
    summary: 'The S3 endpoint refused the credentials for the attachment.',
    hint: 'Check dispatcher.s3.accessKeyId / secretAccessKey (S3_ACCESS_KEY / S3_SECRET_KEY) and the bucket policy.',
    status: 502
  },
  VGL_DISPATCHER_S3_UNAVAILABLE: {
    summary: 'The S3 endpoint could not be reached or failed while the attachment was read.',
    hint: 'Retried with backoff; check dispatcher.s3.url (S3_URL).',
    status: 502,
    retryable: true
  }
} as const
