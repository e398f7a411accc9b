/**
 * Named principals from config (access.principals) and from the token file (access.tokenFile),
 * which is reloaded without a restart: on change (fs.watch on its directory, so editors that
 * replace the file are seen) and on SIGHUP. A file that fails to parse keeps the principals in
 * force and is reported; at start it stops Vigil.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import { Ajv } from 'ajv'
import { Type, type Static } from '@sinclair/typebox'
import { VigilError } from '../errors.ts'
import type { Principal, Role } from '../http/roles.ts'
import type { Credential, CredentialSource } from './directory.ts'
import { parseTokenHash } from './token-hash.ts'

const RoleSchema = Type.Union(['viewer', 'producer', 'operator', 'admin', 'agent'].map(r => Type.Literal(r)))
const PrincipalEntrySchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  roles: Type.Array(RoleSchema, { minItems: 1 }),
  tokenHash: Type.String({ minLength: 1 }),
  nodeId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 }))
}, { additionalProperties: false })
const TokenFile = Type.Object({ principals: Type.Array(PrincipalEntrySchema) }, { additionalProperties: false })
export type PrincipalEntry = Static<typeof PrincipalEntrySchema>

const validateFile = new Ajv({ allErrors: true, strict: true }).compile<Static<typeof TokenFile>>(TokenFile)

/** Turns entries into credentials, naming the entry (`where[i]`) that is wrong. */
export function credentialsOf (entries: readonly PrincipalEntry[], where: string): Credential[] {
  return entries.map((entry, i) => {
    const principal: Principal = { name: entry.name, roles: [...new Set(entry.roles as Role[])], ...(entry.nodeId === undefined ? {} : { nodeId: entry.nodeId }) }
    return { principal, hash: parseTokenHash(entry.tokenHash, `${where}[${i}].tokenHash`) }
  })
}

/** Reads and checks a token file; throws VGL_ACCESS_TOKEN_FILE_INVALID naming what is wrong. */
export function readTokenFile (file: string): Credential[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'))
  } catch (cause) {
    throw new VigilError('VGL_ACCESS_TOKEN_FILE_INVALID', `access.tokenFile ${file}: ${(cause as Error).message}`, { file, cause })
  }
  if (!validateFile(parsed)) {
    const problem = validateFile.errors?.[0]
    throw new VigilError('VGL_ACCESS_TOKEN_FILE_INVALID', `access.tokenFile ${file}: ${problem?.instancePath === '' ? 'the document' : problem?.instancePath} ${problem?.message ?? 'is invalid'}`, { file, field: problem?.instancePath })
  }
  try {
    return credentialsOf(parsed.principals, `${file}: principals`)
  } catch (cause) {
    throw new VigilError('VGL_ACCESS_TOKEN_FILE_INVALID', (cause as Error).message, { file, cause })
  }
}

/** Indexes credentials by token id. */
function index (credentials: readonly Credential[]): Map<string, Credential[]> {
  const byId = new Map<string, Credential[]>()
  for (const credential of credentials) {
    const list = byId.get(credential.hash.id)
    if (list === undefined) byId.set(credential.hash.id, [credential])
    else list.push(credential)
  }
  return byId
}

export interface NamedPrincipalsOptions {
  fromConfig: readonly Credential[]
  /** access.tokenFile; empty for none. */
  tokenFile: string
  /** Called after each successful reload (with the count) and each failed one (with the error). */
  onReload: (outcome: { count: number } | { error: VigilError }) => void
}

export class NamedPrincipals implements CredentialSource {
  readonly #options: NamedPrincipalsOptions
  #byId: Map<string, Credential[]>
  #watcher: FSWatcher | undefined
  #debounce: NodeJS.Timeout | undefined
  #lastText: string | undefined

  constructor (options: NamedPrincipalsOptions) {
    this.#options = options
    this.#byId = index([...options.fromConfig, ...(options.tokenFile === '' ? [] : readTokenFile(options.tokenFile))])
    this.#lastText = this.#readText()
  }

  candidates (tokenId: string): readonly Credential[] {
    return this.#byId.get(tokenId) ?? []
  }

  /** Reads the token file again; keeps the previous principals when it is invalid. */
  reload (): { count: number } | { error: VigilError } {
    try {
      const fromFile = this.#options.tokenFile === '' ? [] : readTokenFile(this.#options.tokenFile)
      this.#byId = index([...this.#options.fromConfig, ...fromFile])
      this.#lastText = this.#readText()
      const outcome = { count: this.#options.fromConfig.length + fromFile.length }
      this.#options.onReload(outcome)
      return outcome
    } catch (error) {
      const outcome = { error: error as VigilError }
      this.#options.onReload(outcome)
      return outcome
    }
  }

  /** Reloads when the token file changes (its directory is watched: editors replace files). */
  watch (): void {
    const file = this.#options.tokenFile
    if (file === '' || this.#watcher !== undefined) return
    this.#watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
      if (name !== null && name !== basename(file)) return
      clearTimeout(this.#debounce)
      // Writers rename or write in several steps: reload once they are done, and only on a real change.
      this.#debounce = setTimeout(() => { if (this.#readText() !== this.#lastText) this.reload() }, 100)
    })
    this.#watcher.on('error', () => {})
  }

  close (): void {
    clearTimeout(this.#debounce)
    this.#watcher?.close()
    this.#watcher = undefined
  }

  #readText (): string | undefined {
    if (this.#options.tokenFile === '') return undefined
    try {
      return readFileSync(this.#options.tokenFile, 'utf8')
    } catch {
      return undefined
    }
  }
}
