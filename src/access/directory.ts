/**
 * Who a presented token belongs to. Principals come from server.apiTokens (plain tokens in
 * config, compared by SHA-256 digest), from access.principals and access.tokenFile (scrypt
 * hashes), and from enrolled agents (scrypt hashes on the agent topic).
 *
 * The hot path is one SHA-256 and one Map lookup: a token is checked with scrypt once, then its
 * digest is cached (bounded) until principals reload or a node is revoked. Looking up by digest
 * leaks only timing about the digest, not the token; scrypt results are compared with
 * timingSafeEqual. Tokens that failed are remembered too (bounded), so repeating a wrong token
 * does not cost a scrypt each time.
 */
import type { Principal } from '../http/roles.ts'
import { tokenDigest, tokenIdOf, tokenMatches, type TokenHash } from './token-hash.ts'

export interface Credential {
  readonly principal: Principal
  readonly hash: TokenHash
}

/** A set of hashed credentials, looked up by token id ('-' for tokens without one). */
export interface CredentialSource {
  candidates (tokenId: string): readonly Credential[]
}

export interface PrincipalDirectoryOptions {
  /** server.apiTokens and the principal each makes. */
  plainTokens: ReadonlyArray<{ token: string, principal: Principal }>
  sources: readonly CredentialSource[]
  cacheSize: number
}

const failedCacheSize = 1024

export class PrincipalDirectory {
  readonly #plain = new Map<string, Principal>()
  readonly #sources: readonly CredentialSource[]
  readonly #cacheSize: number
  readonly #verified = new Map<string, Principal>()
  readonly #failed = new Set<string>()
  readonly #inFlight = new Map<string, Promise<Principal | undefined>>()
  #generation = 0

  constructor (options: PrincipalDirectoryOptions) {
    for (const { token, principal } of options.plainTokens) this.#plain.set(tokenDigest(token), principal)
    this.#sources = options.sources
    this.#cacheSize = options.cacheSize
  }

  /** The principal a token belongs to, or undefined. */
  async authenticate (token: string): Promise<Principal | undefined> {
    const digest = tokenDigest(token)
    const known = this.#plain.get(digest) ?? this.#verified.get(digest)
    if (known !== undefined) return known
    if (this.#failed.has(digest)) return undefined
    let pending = this.#inFlight.get(digest)
    if (pending === undefined) {
      pending = this.#verify(token, digest).finally(() => this.#inFlight.delete(digest))
      this.#inFlight.set(digest, pending)
    }
    return await pending
  }

  /** Forgets every verified and failed token: after principals reload or a node is revoked. */
  invalidate (): void {
    this.#generation++
    this.#verified.clear()
    this.#failed.clear()
  }

  /**
   * Forgets the verified tokens of the principals that match (a revoked node) at once, and every
   * failed token (one may belong to a credential that just appeared).
   */
  forget (matches: (principal: Principal) => boolean): void {
    this.#generation++
    this.#failed.clear()
    for (const [digest, principal] of this.#verified) if (matches(principal)) this.#verified.delete(digest)
  }

  async #verify (token: string, digest: string): Promise<Principal | undefined> {
    const generation = this.#generation
    const id = tokenIdOf(token)
    let found: Principal | undefined
    for (const source of this.#sources) {
      for (const credential of source.candidates(id)) {
        if (await tokenMatches(token, credential.hash)) { found = credential.principal; break }
      }
      if (found !== undefined) break
    }
    // A reload or revocation during the check makes its answer stale: check again.
    if (generation !== this.#generation) return await this.#verify(token, digest)
    if (found === undefined) {
      if (this.#failed.size >= failedCacheSize) this.#failed.clear()
      this.#failed.add(digest)
      return undefined
    }
    if (this.#verified.size >= this.#cacheSize) this.#verified.delete(this.#verified.keys().next().value as string)
    this.#verified.set(digest, found)
    return found
  }
}
