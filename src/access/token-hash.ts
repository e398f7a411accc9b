/**
 * Token hashes: scrypt (node:crypto) with a random salt, written as one string
 * `scrypt$<id>$<N>$<r>$<p>$<salt>$<hash>` (salt and hash base64url). Tokens Vigil creates look
 * like `vgl_<id>_<secret>`: the id picks the one hash to check, so a presented token costs at most
 * one scrypt however many principals there are; a hand-made token has id `-` and is checked
 * against the hashes without an id. Nothing here logs or keeps a token.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { VigilError } from '../errors.ts'

/** OWASP's scrypt floor (N=2^17, r=8) costs ~130 MB per check; 2^15 with r=8 is ~32 MB and ~60 ms here, paid once per token thanks to the cache. */
const defaultCost = { N: 2 ** 15, r: 8, p: 1 } as const
const keyLength = 32
const tokenPattern = /^vgl_([0-9a-f]{12})_[A-Za-z0-9_-]{32,}$/

export interface TokenHash {
  /** The token id (12 hex digits) for `vgl_` tokens, '-' for others. */
  readonly id: string
  readonly N: number
  readonly r: number
  readonly p: number
  readonly salt: Buffer
  readonly hash: Buffer
}

/** A new random token `vgl_<id>_<43 base64url characters>` (256 bits of secret). */
export function newToken (): string {
  return `vgl_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`
}

/** The id of a `vgl_` token, '-' for any other token. */
export function tokenIdOf (token: string): string {
  return tokenPattern.exec(token)?.[1] ?? '-'
}

export async function hashToken (token: string, cost: { N: number, r: number, p: number } = defaultCost): Promise<string> {
  const salt = randomBytes(16)
  const hash = await derive(token, salt, cost)
  return ['scrypt', tokenIdOf(token), cost.N, cost.r, cost.p, salt.toString('base64url'), hash.toString('base64url')].join('$')
}

/** Parses a stored hash; `where` names it in the error (e.g. `access.principals[2].tokenHash`). */
export function parseTokenHash (text: string, where: string): TokenHash {
  const parts = text.split('$')
  const [kind, id, n, r, p, salt, hash] = parts
  const number = (s: string | undefined, max: number): number => /^\d{1,10}$/.test(s ?? '') && Number(s) >= 1 && Number(s) <= max ? Number(s) : NaN
  const parsed = { id: id ?? '', N: number(n, 2 ** 20), r: number(r, 32), p: number(p, 16), salt: Buffer.from(salt ?? '', 'base64url'), hash: Buffer.from(hash ?? '', 'base64url') }
  if (parts.length !== 7 || kind !== 'scrypt' || !/^([0-9a-f]{12}|-)$/.test(parsed.id) || Number.isNaN(parsed.N + parsed.r + parsed.p) ||
      (parsed.N & (parsed.N - 1)) !== 0 || parsed.salt.length < 8 || parsed.hash.length !== keyLength) {
    throw new VigilError('VGL_ACCESS_TOKEN_HASH_INVALID', `${where} is not a token hash (scrypt$<id>$<N>$<r>$<p>$<salt>$<hash>)`, { key: where })
  }
  return parsed
}

/** Whether `token` matches the hash; the comparison takes the same time wherever they differ. */
export async function tokenMatches (token: string, stored: TokenHash): Promise<boolean> {
  const derived = await derive(token, stored.salt, stored)
  return timingSafeEqual(derived, stored.hash)
}

/** SHA-256 of a token: the key of the verified-token cache, so the cache holds no token. */
export function tokenDigest (token: string): string {
  return createHash('sha256').update(token).digest('base64')
}

function derive (token: string, salt: Buffer, cost: { N: number, r: number, p: number }): Promise<Buffer> {
  const options: ScryptOptions = { N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r + 1024 * 1024 }
  // The asynchronous form runs on libuv's thread pool: a check never blocks the event loop.
  return new Promise((resolve, reject) => scrypt(token, salt, keyLength, options, (error, key) => error === null ? resolve(key) : reject(error)))
}
