/**
 * Prometheus' promtool, for the alert-rule tests: the one on PATH (or /usr/bin/promtool), else
 * Debian's `prometheus` package, which ships it, installed with apt-get (as root: `apt-get
 * update` first, then `apt-get install --no-install-recommends prometheus`), the way
 * scripts/kafka.ts fetches Kafka's jars. Nothing is cached by hand.
 *
 *   node scripts/promtool.ts        prints the path of promtool, installing it when missing
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

function findOnPath (): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']) {
    if (dir === '') continue
    const candidate = join(dir, 'promtool')
    if (existsSync(candidate)) return candidate
  }
  return undefined
}

/** The path of promtool; installs Debian's prometheus package when there is none. */
export async function ensurePromtool (log: (line: string) => void = () => {}): Promise<string> {
  const found = findOnPath()
  if (found !== undefined) return found
  if (process.getuid?.() !== 0) {
    throw new Error('promtool is missing and this is not root: install it with `apt-get update && apt-get install prometheus` (Debian) or put it on PATH')
  }
  log('promtool missing: apt-get update && apt-get install prometheus')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  await run('apt-get', ['update', '-qq'], { env, maxBuffer: 64 * 1024 * 1024 })
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'prometheus'], { env, maxBuffer: 64 * 1024 * 1024 })
  const installed = findOnPath()
  if (installed === undefined) throw new Error('apt-get installed prometheus but no promtool is on PATH or in /usr/bin')
  return installed
}

if (import.meta.main) {
  process.stdout.write(await ensurePromtool(line => process.stderr.write(line + '\n')) + '\n')
}
