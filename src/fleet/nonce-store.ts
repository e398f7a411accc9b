/**
 * The agent's record of the command nonces it has accepted, on disk (one `<nonce> <expires_at
 * ms>` line each, appended and fsynced before the command runs), so a restart does not reopen a
 * replay. Lines of commands that have expired are dropped when the file is loaded: an expired
 * command is refused on its expiry alone.
 */
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

export class NonceStore {
  readonly #file: string
  readonly #seen = new Map<string, number>()

  constructor (file: string, now: number = Date.now()) {
    this.#file = file
    mkdirSync(dirname(file), { recursive: true })
    if (existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const [nonce, expires] = line.split(' ')
        const expiresAt = Number(expires)
        if (nonce !== undefined && nonce !== '' && Number.isFinite(expiresAt) && expiresAt > now) this.#seen.set(nonce, expiresAt)
      }
    }
    // Rewrite without the expired lines, atomically, so the file stays as small as the live set.
    const tmp = `${file}.tmp`
    writeFileSync(tmp, [...this.#seen].map(([n, e]) => `${n} ${e}\n`).join(''), { mode: 0o600 })
    renameSync(tmp, file)
  }

  has (nonce: string): boolean { return this.#seen.has(nonce) }

  /** Records a nonce durably; resolves after fsync. */
  add (nonce: string, expiresAt: number): void {
    this.#seen.set(nonce, expiresAt)
    appendFileSync(this.#file, `${nonce} ${expiresAt}\n`, { mode: 0o600 })
    const fd = openSync(this.#file, 'r')
    try { fsyncSync(fd) } finally { closeSync(fd) }
  }
}
