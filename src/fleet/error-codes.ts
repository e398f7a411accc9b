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
  VGL_FLEET_NODE_NOT_FOUND: {
    summary: 'No node with this id has sent a heartbeat, scan or event.',
    hint: 'Check the id (GET /api/fleet/nodes lists the known nodes).',
    status: 404
  },
  VGL_FLEET_COMMAND_REFUSED: {
    summary: 'POST /api/fleet/commands asked for a command the node\'s os_profile policy does not allow, or with arguments its schema refuses.',
    hint: 'GET /api/fleet/policy lists the commands of each profile and the JSON Schema of their arguments; fleet.policy sets them.',
    status: 422
  },
  VGL_FLEET_SIGNING_KEY_INVALID: {
    summary: 'A command signing key (fleet.signing.privateKeys or a file of fleet.signing.keyFiles) is not a usable Ed25519 private key, or its file is readable by group or others.',
    hint: 'Give PKCS#8 PEM Ed25519 keys (openssl genpkey -algorithm ed25519) in files of mode 0600, or leave the first key file missing to have Vigil create it.',
    status: 500
  },
  VGL_FLEET_AGENT_CONFIG_INVALID: {
    summary: '`vigil agent` cannot start: a VAULTMESH_* variable or flag is missing or invalid, or a pinned public key or state file cannot be read.',
    hint: 'The message names the variable; see docs/fleet.md for the agent\'s variables.',
    status: 500
  },
  VGL_FLEET_NOT_READY: {
    summary: 'The fleet projector has not finished replaying the fleet topics (the server is starting) or is stopping.',
    hint: 'Wait for /readyz to answer 200.',
    status: 503,
    retryable: true
  }
} as const
