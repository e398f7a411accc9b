/**
 * What an agent checks before it runs a command, in this order: the shape, a pinned key id, the
 * signature, its own node id, the validity window, its local allow-list and the arguments'
 * schema, and a nonce never seen before (recorded durably only once every other check passed,
 * so a forged command cannot burn a nonce). Each refusal names its reason, which the agent
 * reports back as a `refused` command result.
 */
import type { KeyObject } from 'node:crypto'
import { Ajv, type ValidateFunction } from 'ajv'
import { commandSignatureValid, type SignedCommand } from './signed-command.ts'
import type { NonceStore } from './nonce-store.ts'

export const refusalReasons = ['malformed', 'unknown_key', 'bad_signature', 'wrong_node', 'expired', 'not_yet_valid', 'not_allowed', 'bad_args', 'replayed_nonce'] as const
export type RefusalReason = typeof refusalReasons[number]

export type Verdict = { ok: true, command: SignedCommand } | { ok: false, reason: RefusalReason, detail: string }

export interface VerifierOptions {
  nodeId: string
  /** Pinned public keys by key id. */
  publicKeys: ReadonlyMap<string, KeyObject>
  /** The agent's own allow-list: command name → JSON Schema of its arguments. */
  allowList: Readonly<Record<string, { args: Record<string, unknown> }>>
  nonces: NonceStore
  /** How far issued_at may be ahead of the agent's clock (ms). */
  maxClockSkewMs?: number
}

const hex128 = /^[0-9a-f]{32}$/

export class CommandVerifier {
  readonly #options: VerifierOptions
  readonly #argValidators = new Map<string, ValidateFunction>()

  constructor (options: VerifierOptions) {
    this.#options = options
    const ajv = new Ajv({ allErrors: false, strict: false })
    for (const [name, spec] of Object.entries(options.allowList)) this.#argValidators.set(name, ajv.compile(spec.args))
  }

  verify (input: unknown, now: number = Date.now()): Verdict {
    const refuse = (reason: RefusalReason, detail: string): Verdict => ({ ok: false, reason, detail })
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return refuse('malformed', 'the command is not a JSON object')
    const c = input as Record<string, unknown>
    for (const field of ['node_id', 'command', 'nonce', 'issued_at', 'expires_at', 'key_id', 'signature'] as const) {
      if (typeof c[field] !== 'string') return refuse('malformed', `field ${field} is missing or not a string`)
    }
    if (typeof c.args !== 'object' || c.args === null || Array.isArray(c.args)) return refuse('malformed', 'field args is not an object')
    if (!hex128.test(c.nonce as string)) return refuse('malformed', 'field nonce is not 128 bits as 32 lowercase hex digits')
    const issuedAt = Date.parse(c.issued_at as string)
    const expiresAt = Date.parse(c.expires_at as string)
    if (Number.isNaN(issuedAt) || Number.isNaN(expiresAt)) return refuse('malformed', 'issued_at or expires_at is not an RFC 3339 time')

    const key = this.#options.publicKeys.get(c.key_id as string)
    if (key === undefined) return refuse('unknown_key', `key id ${String(c.key_id)} is not pinned`)
    if (!commandSignatureValid(c, key)) return refuse('bad_signature', `the signature does not verify with key ${String(c.key_id)}`)
    if ((c.node_id as string).toLowerCase() !== this.#options.nodeId.toLowerCase()) return refuse('wrong_node', `the command is for node ${String(c.node_id)}, this is node ${this.#options.nodeId}`)
    if (now >= expiresAt) return refuse('expired', `the command expired at ${String(c.expires_at)}`)
    if (issuedAt > now + (this.#options.maxClockSkewMs ?? 300_000)) return refuse('not_yet_valid', `the command is issued at ${String(c.issued_at)}, ahead of this node's clock`)
    const validate = this.#argValidators.get(c.command as string)
    if (validate === undefined) return refuse('not_allowed', `command ${String(c.command)} is not in this agent's allow-list`)
    if (!validate(c.args)) {
      const e = validate.errors?.[0]
      return refuse('bad_args', `args${e?.instancePath.replaceAll('/', '.') ?? ''} ${e?.message ?? 'invalid'}`)
    }
    if (this.#options.nonces.has(c.nonce as string)) return refuse('replayed_nonce', `nonce ${String(c.nonce)} was already used`)
    this.#options.nonces.add(c.nonce as string, expiresAt)
    return { ok: true, command: c as unknown as SignedCommand }
  }
}
