/**
 * Agents' credentials: a node presents the enrolment secret once and gets a token bound to its
 * node id; an operator revokes a node (its token is refused at once, and it cannot enrol again
 * until reinstated). The credentials (hashed) and revocations live on a compacted one-partition
 * topic keyed by node id, so every Vigil process on the log shares them: each applies its own
 * writes at once and reads the others' every access.agentRefreshIntervalMs.
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import { VigilError } from '../errors.ts'
import type { Principal } from '../http/roles.ts'
import type { Log } from '../log/types.ts'
import type { Logger } from '../logger.ts'
import type { Credential, CredentialSource } from './directory.ts'
import { hashToken, newToken, parseTokenHash } from './token-hash.ts'

/** One node's state, as the topic holds it (the latest record of its key wins). */
export interface AgentEntry {
  node_id: string
  /** The token's scrypt hash (kept while revoked, so the token is answered "revoked"; dropped when reinstated). */
  token_hash?: string
  enrolled_at?: string
  revoked: boolean
  changed_at: string
  changed_by: string
  hostname?: string
}

export interface AgentRegistryOptions {
  topic: string
  refreshIntervalMs: number
  enrolmentSecret: string
  logger: Logger
  /** Called with each node whose entry changed, so cached verdicts on tokens are forgotten. */
  onChange: (nodeId: string) => void
}

const nodeIdPattern = /^[A-Za-z0-9._:-]{1,200}$/

export class AgentRegistry implements CredentialSource {
  readonly #options: AgentRegistryOptions
  readonly #entries = new Map<string, AgentEntry>()
  readonly #credentials = new Map<string, Credential>()
  readonly #byTokenId = new Map<string, Credential[]>()
  #log: Log | undefined
  #nextOffset = 0
  #timer: NodeJS.Timeout | undefined
  #refreshing: Promise<void> | undefined

  constructor (options: AgentRegistryOptions) {
    this.#options = options
  }

  get ready (): boolean {
    return this.#log !== undefined
  }

  async start (log: Log): Promise<void> {
    await log.admin.ensureTopic({ name: this.#options.topic, partitions: 1, cleanupPolicy: 'compact', retentionMs: -1 })
    this.#log = log
    await this.refresh()
    this.#timer = setInterval(() => { this.refresh().catch(error => this.#options.logger.warn({ err: error }, 'agent credentials: could not read the agent topic')) }, this.#options.refreshIntervalMs)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  candidates (tokenId: string): readonly Credential[] {
    return this.#byTokenId.get(tokenId) ?? []
  }

  isRevoked (nodeId: string): boolean {
    return this.#entries.get(nodeId)?.revoked === true
  }

  list (): AgentEntry[] {
    return [...this.#entries.values()].map(({ token_hash: _hash, ...entry }) => entry).sort((a, b) => a.node_id.localeCompare(b.node_id))
  }

  /** Checks the enrolment secret and issues a new token for `nodeId` (a second enrolment replaces the first token). */
  async enrol (nodeId: string, secret: string, hostname: string | undefined): Promise<string> {
    if (this.#options.enrolmentSecret === '') throw new VigilError('VGL_ACCESS_ENROLMENT_DISABLED', 'agent enrolment is disabled: access.enrolmentSecret is empty')
    if (!secretMatches(secret, this.#options.enrolmentSecret)) throw new VigilError('VGL_ACCESS_ENROLMENT_REFUSED', 'wrong enrolment secret', {})
    checkNodeId(nodeId)
    await this.refresh()
    if (this.isRevoked(nodeId)) throw new VigilError('VGL_ACCESS_NODE_REVOKED', `node ${nodeId} was revoked; an operator must reinstate it before it enrols again`, { nodeId })
    const token = newToken()
    const now = new Date().toISOString()
    await this.#write({ node_id: nodeId, token_hash: await hashToken(token), enrolled_at: now, revoked: false, changed_at: now, changed_by: 'enrolment', ...(hostname === undefined ? {} : { hostname }) })
    return token
  }

  async revoke (nodeId: string, by: string): Promise<AgentEntry> {
    checkNodeId(nodeId)
    await this.refresh()
    // The hash stays, so the revoked token is recognised and answered "revoked", not "unknown".
    const previous = this.#entries.get(nodeId)
    const entry: AgentEntry = { node_id: nodeId, revoked: true, changed_at: new Date().toISOString(), changed_by: by, ...(previous?.token_hash === undefined ? {} : { token_hash: previous.token_hash }) }
    await this.#write(entry)
    const { token_hash: _hash, ...shown } = entry
    return shown
  }

  async reinstate (nodeId: string, by: string): Promise<AgentEntry> {
    checkNodeId(nodeId)
    await this.refresh()
    if (!this.isRevoked(nodeId)) throw new VigilError('VGL_HTTP_NOT_FOUND', `node ${nodeId} is not revoked`, { nodeId })
    // Reinstated without a credential: the node enrols again to get a new token.
    const entry: AgentEntry = { node_id: nodeId, revoked: false, changed_at: new Date().toISOString(), changed_by: by }
    await this.#write(entry)
    return entry
  }

  /** Reads what other processes wrote since the last read. */
  async refresh (): Promise<void> {
    this.#refreshing ??= this.#readNew().finally(() => { this.#refreshing = undefined })
    await this.#refreshing
  }

  async #readNew (): Promise<void> {
    const log = this.#requireLog()
    for (;;) {
      const records = await log.read(this.#options.topic, 0, this.#nextOffset, 1000)
      if (records.length === 0) return
      for (const record of records) {
        this.#nextOffset = record.offset + 1
        if (record.value === null || record.key === null) continue
        try {
          this.#apply(JSON.parse(record.value.toString('utf8')) as AgentEntry)
        } catch (error) {
          this.#options.logger.warn({ offset: record.offset, err: error }, 'agent credentials: a record of the agent topic is not an agent entry; skipped')
        }
      }
    }
  }

  async #write (entry: AgentEntry): Promise<void> {
    const [written] = await this.#requireLog().produce(this.#options.topic, [{ key: Buffer.from(entry.node_id), value: Buffer.from(JSON.stringify(entry)) }])
    this.#apply(entry)
    if (written !== undefined && written.offset === this.#nextOffset) this.#nextOffset = written.offset + 1
  }

  #apply (entry: AgentEntry): void {
    const previous = this.#credentials.get(entry.node_id)
    if (previous !== undefined) {
      const list = (this.#byTokenId.get(previous.hash.id) ?? []).filter(c => c !== previous)
      if (list.length === 0) this.#byTokenId.delete(previous.hash.id)
      else this.#byTokenId.set(previous.hash.id, list)
      this.#credentials.delete(entry.node_id)
    }
    this.#entries.set(entry.node_id, entry)
    if (entry.token_hash !== undefined) {
      const principal: Principal = { name: `agent:${entry.node_id}`, roles: ['agent'], nodeId: entry.node_id }
      const credential = { principal, hash: parseTokenHash(entry.token_hash, `agent topic entry of ${entry.node_id}`) }
      this.#credentials.set(entry.node_id, credential)
      this.#byTokenId.set(credential.hash.id, [...(this.#byTokenId.get(credential.hash.id) ?? []), credential])
    }
    this.#options.onChange(entry.node_id)
  }

  #requireLog (): Log {
    if (this.#log === undefined) throw new VigilError('VGL_ACCESS_NOT_READY', 'agent credentials are not loaded yet: the log is not connected')
    return this.#log
  }
}

function checkNodeId (nodeId: string): void {
  if (!nodeIdPattern.test(nodeId)) throw new VigilError('VGL_HTTP_BAD_REQUEST', `node_id must be 1 to 200 letters, digits or . _ : -, got ${JSON.stringify(nodeId.slice(0, 50))}`, { field: 'node_id' })
}

/** Compares digests, so neither the length nor the content of the secret leaks through timing. */
function secretMatches (presented: string, expected: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(presented), digest(expected))
}
