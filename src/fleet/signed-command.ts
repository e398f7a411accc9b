/**
 * The signed command format, shared by the server that signs and the agents that verify:
 *
 *   { node_id, command, args, nonce, issued_at, expires_at, key_id, signature }
 *
 * `signature` is Ed25519 over the UTF-8 bytes of the RFC 8785 canonical JSON of every other
 * field (the object without `signature`), base64. `nonce` is 128 random bits as 32 lowercase hex
 * digits; times are RFC 3339 UTC. Adding, removing or changing any field breaks the signature.
 */
import { createHash, sign, verify, type KeyObject } from 'node:crypto'
import { canonicalize } from '../canonical-json.ts'

export interface UnsignedCommand {
  node_id: string
  command: string
  args: Record<string, unknown>
  nonce: string
  issued_at: string
  expires_at: string
  key_id: string
}

export interface SignedCommand extends UnsignedCommand {
  signature: string
}

/** First 16 hex digits of sha256 of the DER (SPKI) public key. */
export function keyIdOf (publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)
}

export function signCommand (command: UnsignedCommand, privateKey: KeyObject): SignedCommand {
  return { ...command, signature: sign(null, Buffer.from(canonicalize(command)), privateKey).toString('base64') }
}

/** Whether `signature` is the key's signature over the rest of the object. Never throws. */
export function commandSignatureValid (command: Record<string, unknown>, publicKey: KeyObject): boolean {
  const { signature, ...rest } = command
  if (typeof signature !== 'string') return false
  try {
    return verify(null, Buffer.from(canonicalize(rest)), publicKey, Buffer.from(signature, 'base64'))
  } catch {
    return false
  }
}
