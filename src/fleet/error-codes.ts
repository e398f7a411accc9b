/**
 * Error codes of the fleet area: the VaultMesh-compatible agent and event routes, fleet queries
 * and the projector. The fleet routes answer them as VaultMesh's `{"error": …}` with Vigil's
 * `code`, `hint` and the offending `field` added.
 */
export const fleetErrors = {
  VGL_FLEET_INPUT_INVALID: {
    summary: 'A fleet route got a body or query that is not valid JSON, has a field of the wrong type, misses a required field or is too large.',
    hint: 'The message and `field` name what is wrong; docs/fleet.md gives every route\'s shape.',
    status: 400
  },
  VGL_FLEET_NODE_MISMATCH: {
    summary: 'An agent credential bound to one node id sent a request for another node.',
    hint: 'An agent may only report and fetch commands for its own node: check VAULTMESH_NODE_ID against the node its token was issued for.',
    status: 403
  },
  VGL_FLEET_NODE_NOT_FOUND: {
    summary: 'No node with this id has sent a heartbeat, scan or event.',
    hint: 'Check the id (GET /api/fleet/nodes lists the known nodes).',
    status: 404
  },
  VGL_FLEET_NOT_READY: {
    summary: 'The fleet projector has not finished replaying the fleet topics (the server is starting) or is stopping.',
    hint: 'Wait for /readyz to answer 200.',
    status: 503,
    retryable: true
  }
} as const
