/**
 * Confluent's Python client (`confluent-kafka[schemaregistry]` from PyPI) in a virtualenv under
 * `.cache/python/`, installed the first time a test asks for it, with no manual step. The
 * registry interop tests drive Vigil's registry with it, next to @kafkajs/confluent-schema-registry.
 *
 *   const python = await confluentPython()     // the venv's python, with confluent_kafka importable
 *
 * Only one test file uses it, so unlike scripts/s3.ts there is no cross-process install lock;
 * a marker file written after a complete install makes a half-finished one start again.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
export const confluentKafkaVersion = '2.16.1'
const projectRoot = fileURLToPath(new URL('../', import.meta.url))
const venv = join(projectRoot, '.cache', 'python', 'confluent-venv')
const marker = join(venv, `.vigil-confluent-kafka-${confluentKafkaVersion}`)
const installTimeoutMs = 10 * 60_000

let installing: Promise<string> | undefined

/** The venv's python executable, installing confluent-kafka[schemaregistry] when needed. */
export function confluentPython (log: (line: string) => void = () => {}): Promise<string> {
  installing ??= (async () => {
    const python = join(venv, 'bin', 'python')
    if (existsSync(marker) && existsSync(python)) return python
    await install(log)
    return python
  })().catch((error: unknown) => {
    installing = undefined
    throw error
  })
  return installing
}

async function install (log: (line: string) => void): Promise<void> {
  const system = process.env.PYTHON ?? 'python3'
  const requirement = `confluent-kafka[schemaregistry]==${confluentKafkaVersion}`
  log(`installing ${requirement} from PyPI into ${venv} (once)`)
  try {
    await rm(venv, { recursive: true, force: true })
    await mkdir(join(projectRoot, '.cache', 'python'), { recursive: true })
    await run(system, ['-m', 'venv', venv], { timeout: 120_000 })
    await run(join(venv, 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', requirement], { timeout: installTimeoutMs, maxBuffer: 16 * 1024 * 1024 })
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException & { stderr?: string }
    const hint = e.code === 'ENOENT'
      ? 'Install Python 3 with venv (Debian: apt-get install python3-venv) or set PYTHON.'
      : 'Check network access to PyPI (or a mirror in pip.conf).'
    throw new Error(`cannot install ${requirement}: ${(e.stderr ?? e.message).trim().split('\n').slice(-5).join('\n')}\n  hint: ${hint}`, { cause })
  }
  await writeFile(marker, `${confluentKafkaVersion}\n`)
}
