/**
 * A Chromium for the console's browser tests and benchmark: Debian's `chromium` package, installed
 * with apt-get when it is missing (as scripts/kafka.ts fetches Kafka's jars), so a fresh machine
 * needs nothing by hand. playwright-core drives it (`chromium.launch({ executablePath })`).
 *
 *   node scripts/browser.ts        prints the browser's path, installing it first when needed
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const candidates = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/snap/bin/chromium']

function installed (): string | undefined {
  if (process.env.VIGIL_CHROMIUM !== undefined && existsSync(process.env.VIGIL_CHROMIUM)) return process.env.VIGIL_CHROMIUM
  return candidates.find(path => existsSync(path))
}

function run (command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, encoding: 'utf8' })
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal}): ${(result.stderr || result.stdout || '').slice(-2000)}`)
  }
}

/** The path of a Chromium binary, installing Debian's package first when none is there. */
export function chromiumPath (): string {
  const found = installed()
  if (found !== undefined) return found
  if (process.platform !== 'linux' || !existsSync('/usr/bin/apt-get')) {
    throw new Error('no Chromium found and this is not a Debian-like system: install Chromium and set VIGIL_CHROMIUM to its path')
  }
  // apt-get needs root; as another user the test tells what to run instead of failing obscurely.
  if (process.getuid?.() !== 0) throw new Error('Chromium is missing: run `sudo apt-get update && sudo apt-get install -y chromium` (or set VIGIL_CHROMIUM)')
  run('apt-get', ['update', '-qq'])
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'])
  const path = installed()
  if (path === undefined) throw new Error('apt-get installed chromium but no binary was found at ' + candidates.join(', '))
  return path
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(chromiumPath())
}
