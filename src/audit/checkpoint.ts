/**
 * Signed checkpoints: every audit.checkpoint.intervalMs (and at stop) the archiver writes, to each
 * store, each partition's chain head (`next_offset`, `head`) signed with Ed25519 over its RFC 8785
 * canonical form. Anyone holding the public key (`vigil audit public-key`, GET
 * /v1/audit/checkpoints/public-key) can check that the stored chain still ends where it did:
 * rewriting records and recomputing every hash after a checkpoint is detected, because the
 * attacker cannot sign a new checkpoint. Copy checkpoints off the box for the strongest guarantee.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { VigilError } from '../errors.ts'
import { canonicalize } from './canonical.ts'

export interface CheckpointPartition {
  partition: number
  /** Offsets below this are archived. */
  next_offset: number
  /** Hash of the record at next_offset − 1 (the chain head). */
  head: string
}

export interface CheckpointBody {
  v: 1
  topic: string
  store: 'local' | 's3'
  created_at: string
  key_id: string
  partitions: CheckpointPartition[]
}

export interface SignedCheckpoint extends CheckpointBody {
  /** Ed25519 signature of JCS(body without signature), base64. */
  signature: string
}

export interface SigningKey {
  privateKey: KeyObject
  publicKey: KeyObject
  publicKeyPem: string
  /** First 16 hex digits of sha256 of the DER public key. */
  keyId: string
}

/** The configured key (PEM text), else the key file, created with mode 0600 when missing. */
export function loadSigningKey (privateKeyPem: string, keyFile: string): SigningKey {
  let pem = privateKeyPem
  if (pem === '') {
    if (!existsSync(keyFile)) {
      const { privateKey } = generateKeyPairSync('ed25519')
      mkdirSync(dirname(keyFile), { recursive: true })
      writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' })
    }
    pem = readFileSync(keyFile, 'utf8')
  }
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(pem)
  } catch (cause) {
    throw new VigilError('VGL_AUDIT_SIGNING_KEY_INVALID', `the audit checkpoint key (${privateKeyPem === '' ? keyFile : 'audit.checkpoint.privateKey'}) is not a PEM private key`, { cause })
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new VigilError('VGL_AUDIT_SIGNING_KEY_INVALID', `the audit checkpoint key is ${privateKey.asymmetricKeyType ?? 'unknown'}, not ed25519`, {})
  }
  const publicKey = createPublicKey(privateKey)
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), keyId: keyIdOf(publicKey) }
}

export function parsePublicKey (pem: string): KeyObject {
  let key: KeyObject
  try {
    key = createPublicKey(pem)
  } catch (cause) {
    throw new VigilError('VGL_AUDIT_SIGNING_KEY_INVALID', 'the public key is not a PEM (SPKI) key', { cause })
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new VigilError('VGL_AUDIT_SIGNING_KEY_INVALID', `the public key is ${key.asymmetricKeyType ?? 'unknown'}, not ed25519`, {})
  return key
}

export function keyIdOf (publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)
}

export function signCheckpoint (body: CheckpointBody, key: SigningKey): SignedCheckpoint {
  const signature = sign(null, Buffer.from(canonicalize(body)), key.privateKey).toString('base64')
  return { ...body, signature }
}

export function checkpointSignatureValid (checkpoint: SignedCheckpoint, publicKey: KeyObject): boolean {
  const { signature, ...body } = checkpoint
  if (typeof signature !== 'string') return false
  try {
    return verify(null, Buffer.from(canonicalize(body)), publicKey, Buffer.from(signature, 'base64'))
  } catch {
    return false
  }
}

/** Where a checkpoint is kept among a store's `_vigil/` documents. */
export function checkpointKey (topic: string, createdAt: Date, keyId: string): string {
  const iso = createdAt.toISOString()
  return `checkpoints/${topic}/${iso.slice(0, 10)}/${iso.replace(/[-:.]/g, '')}-${keyId}.json`
}
