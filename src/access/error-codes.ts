/**
 * Error codes of access control: roles on routes, principals and their tokens, agent
 * credentials, rate limits and TLS. Authentication failures keep VGL_HTTP_UNAUTHORIZED (401),
 * which clients already know.
 */
export const accessErrors = {
  VGL_ACCESS_FORBIDDEN: {
    summary: 'The request\'s principal lacks the role the route requires (403).',
    hint: 'The message names the role the route needs and the roles the principal has; GET /v1/access/whoami shows them. Ask an admin for a token with that role.',
    status: 403
  },
  VGL_ACCESS_WRONG_NODE: {
    summary: 'An agent credential, bound to one node, was used for another node (403).',
    hint: 'Each agent token acts only for the node it was enrolled for; the message names both node ids. Enrol the other node with its own token.',
    status: 403
  },
  VGL_ACCESS_NODE_REVOKED: {
    summary: 'The node was revoked by an operator: its token is refused and it may not enrol again (403).',
    hint: 'An operator reinstates the node with POST /v1/access/agents/<nodeId>/reinstate; then it enrols again.',
    status: 403
  },
  VGL_ACCESS_CLIENT_CERTIFICATE_REQUIRED: {
    summary: 'An agent route was called over a connection without a client certificate from server.tls.caFile while server.tls.clientCertificates is require-for-agents (403).',
    hint: 'Give the agent a client certificate signed by the CA in server.tls.caFile.',
    status: 403
  },
  VGL_ACCESS_ENROLMENT_DISABLED: {
    summary: 'POST /api/agent/enroll was called while access.enrolmentSecret is empty.',
    hint: 'Set access.enrolmentSecret (VIGIL_ACCESS_ENROLMENT_SECRET) to let nodes enrol.',
    status: 403
  },
  VGL_ACCESS_ENROLMENT_REFUSED: {
    summary: 'POST /api/agent/enroll presented a wrong enrolment secret (401).',
    hint: 'Send {"node_id": …, "enrolment_secret": …} with the secret in access.enrolmentSecret.',
    status: 401
  },
  VGL_ACCESS_NOT_READY: {
    summary: 'Agent credentials are not loaded yet: the log is not connected (503).',
    hint: 'Retry once /readyz answers 200.',
    status: 503,
    retryable: true
  },
  VGL_ACCESS_RATE_LIMITED: {
    summary: 'The principal made more write requests than access.writeRateLimitPerMinute allows (429).',
    hint: 'Wait for the Retry-After header\'s seconds, send larger batches, or raise access.writeRateLimitPerMinute.',
    status: 429,
    retryable: true
  },
  VGL_ACCESS_OVERLOADED: {
    summary: 'The server is handling access.maxConcurrentRequests requests already (503).',
    hint: 'Retry after the Retry-After header\'s seconds; raise access.maxConcurrentRequests if the machine has room.',
    status: 503,
    retryable: true
  },
  VGL_ACCESS_ROUTE_UNDECLARED: {
    summary: 'A route was registered without an access level (config.access), so `vigil serve` refuses to start.',
    hint: 'Declare who may call the route next to its schema: { config: { access: \'viewer\' | \'producer\' | \'operator\' | \'admin\' | \'agent\' | \'public\' } } (src/http/roles.ts).'
  },
  VGL_ACCESS_TOKEN_FILE_INVALID: {
    summary: 'access.tokenFile cannot be read or is not {"principals": [ … ]} with valid entries.',
    hint: 'The message names the file and the entry; at start this stops Vigil, on a reload the previous principals stay in force. `vigil access create-token` prints a valid entry.',
    status: 422
  },
  VGL_ACCESS_TOKEN_HASH_INVALID: {
    summary: 'A tokenHash is not a hash made by `vigil access hash-token` (scrypt$N$r$p$salt$hash).',
    hint: 'Produce the hash with `vigil access hash-token` (reads the token on stdin) or a whole entry with `vigil access create-token`.'
  },
  VGL_ACCESS_TLS_INVALID: {
    summary: 'server.tls names a certificate, key or CA file that cannot be read or does not form a valid TLS context.',
    hint: 'The message names the file; certFile and keyFile must be PEM and match, caFile is needed when clientCertificates is not none. On a reload the previous certificate stays in force.'
  }
} as const
