/**
 * Python tools the tests start beside Vigil (moto's S3 server, schemathesis …), each installed
 * from PyPI into its own virtualenv under `.cache/<name>/venv` the first time, with no manual step.
 * Test files run in parallel processes: one installs while the others wait on a lock (two pip
 * installs into one venv broke a tool that had just started, on a clean clone).
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'

const run = promisify(execFile)
export const projectRoot = fileURLToPath(new URL('../', import.meta.url))
const installTimeoutMs = 15 * 60_000

export interface PythonTool {
  /** The folder under .cache/, e.g. `s3`. */
  name: string
  /** pip requirements, pinned, e.g. `moto[server]==5.2.5`. */
  requirements: string[]
  /** The executable the venv's bin/ gets, e.g. `moto_server`. */
  executable: string
}

const installing = new Map<string, Promise<string>>()

/** The path of the tool's executable, installing it when needed. */
export function pythonTool (tool: PythonTool, log: (line: string) => void = () => {}): Promise<string> {
  let pending = installing.get(tool.name)
  if (pending === undefined) {
    pending = ensure(tool, log).catch((error: unknown) => {
      installing.delete(tool.name)
      throw error
    })
    installing.set(tool.name, pending)
  }
  return pending
}

async function ensure (tool: PythonTool, log: (line: string) => void): Promise<string> {
  const cache = join(projectRoot, '.cache', tool.name)
  const venv = join(cache, 'venv')
  const exe = join(venv, 'bin', tool.executable)
  const marker = join(venv, `.vigil-${tool.requirements.join(' ').replace(/[^A-Za-z0-9.=_-]+/g, '_')}`)
  if (existsSync(marker) && existsSync(exe)) return exe
  await mkdir(cache, { recursive: true })
  return await withLock(join(cache, 'install.lock'), async () => {
    if (existsSync(marker) && existsSync(exe)) return exe
    const python = process.env.PYTHON ?? 'python3'
    log(`installing ${tool.requirements.join(' ')} from PyPI into ${venv} (once)`)
    try {
      if (!existsSync(join(venv, 'bin', 'pip'))) await run(python, ['-m', 'venv', venv], { timeout: 120_000 })
      await run(join(venv, 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', ...tool.requirements], { timeout: installTimeoutMs, maxBuffer: 16 * 1024 * 1024 })
    } catch (cause) {
      const e = cause as NodeJS.ErrnoException & { stderr?: string }
      const hint = e.code === 'ENOENT'
        ? 'Install Python 3 with venv (Debian: apt-get install python3-venv) or set PYTHON.'
        : 'Check network access to PyPI (or a mirror in pip.conf).'
      throw new Error(`cannot install ${tool.requirements.join(' ')}: ${(e.stderr ?? e.message).trim().split('\n').slice(-5).join('\n')}\n  hint: ${hint}`, { cause })
    }
    await writeFile(marker, `${tool.requirements.join('\n')}\n`)
    return exe
  })
}

/** Runs `fn` holding a lock directory (mkdir is atomic); a lock older than an install may take is taken over. */
async function withLock<T> (lock: string, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await mkdir(lock)
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const since = await stat(lock).then(s => s.mtimeMs, () => Date.now())
    if (Date.now() - since > installTimeoutMs + 120_000) await rm(lock, { recursive: true, force: true })
    else await sleep(500)
  }
  try {
    return await fn()
  } finally {
    await rm(lock, { recursive: true, force: true })
  }
}
