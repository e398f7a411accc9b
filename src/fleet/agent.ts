/**
 * `vigil agent`: a node agent that speaks VaultMesh's protocol. It heartbeats every
 * VAULTMESH_HEARTBEAT_SECS, long-polls its signed commands, runs only those its CommandVerifier
 * accepts (pinned keys, its node id, validity window, its allow-list and argument schemas, a
 * nonce never seen before, kept on disk) and reports every outcome, refusals with their reason.
 *
 * Commands run with execFile (no shell): the allow-list gives each command an argv whose
 * `{name}` parts are replaced by the (schema-checked) argument of that name.
 */
import { createHash, createPublicKey, randomUUID, type KeyObject } from 'node:crypto'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { hostname, loadavg, uptime } from 'node:os'
import { join } from 'node:path'
import { Agent as HttpAgent, fetch as undiciFetch } from 'undici'
import { VigilError } from '../errors.ts'
import { CommandVerifier } from './command-verifier.ts'
import { NonceStore } from './nonce-store.ts'

export interface AllowListEntry {
  args: Record<string, unknown>
  /** argv; `{name}` parts take the argument of that name. */
  run: string[]
  timeoutMs?: number
}

export interface AgentSettings {
  url: string
  nodeId: string
  osProfile: string
  vaultmeshRoot: string
  heartbeatSecs: number
  token: string | undefined
  caFile: string | undefined
  stateDir: string
  publicKeys: Map<string, KeyObject>
  allowList: Record<string, AllowListEntry>
}

/** Reads VaultMesh's variables (and Vigil's VIGIL_AGENT_* ones); the node id is made once and kept in the state directory. */
export function agentSettingsFromEnv (env: Record<string, string | undefined>): AgentSettings {
  const need = (name: string): string => {
    const value = env[name]
    if (value === undefined || value === '') throw new VigilError('VGL_FLEET_AGENT_CONFIG_INVALID', `${name} is not set`, { variable: name })
    return value
  }
  const url = need('VAULTMESH_CC_URL').replace(/\/+$/, '')
  if (!/^https?:\/\//.test(url)) throw new VigilError('VGL_FLEET_AGENT_CONFIG_INVALID', `VAULTMESH_CC_URL must be an http(s) URL, got ${url}`, { variable: 'VAULTMESH_CC_URL' })
  const stateDir = env.VIGIL_AGENT_STATE_DIR ?? './data/agent'
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  let nodeId = env.VAULTMESH_NODE_ID
  const idFile = join(stateDir, 'node-id')
  if (nodeId === undefined || nodeId === '') {
    if (!existsSync(idFile)) writeFileSync(idFile, randomUUID() + '\n', { mode: 0o600 })
    nodeId = readFileSync(idFile, 'utf8').trim()
  }
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(nodeId)) throw new VigilError('VGL_FLEET_AGENT_CONFIG_INVALID', `VAULTMESH_NODE_ID is not a UUID: ${nodeId}`, { variable: 'VAULTMESH_NODE_ID' })
  const secs = Number(env.VAULTMESH_HEARTBEAT_SECS ?? '30')
  if (!(secs > 0 && secs <= 86400)) throw new VigilError('VGL_FLEET_AGENT_CONFIG_INVALID', `VAULTMESH_HEARTBEAT_SECS must be a number of seconds from 0 to 86400, got ${env.VAULTMESH_HEARTBEAT_SECS}`, { variable: 'VAULTMESH_HEARTBEAT_SECS' })
  const tokenFile = env.VAULTMESH_AGENT_TOKEN_FILE
  const token = env.VAULTMESH_AGENT_TOKEN ?? (tokenFile === undefined ? undefined : readFileSync(tokenFile, 'utf8').trim())
  return {
    url,
    nodeId: nodeId.toLowerCase(),
    osProfile: env.VAULTMESH_OS_PROFILE ?? 'unknown',
    vaultmeshRoot: env.VAULTMESH_ROOT ?? '/var/lib/vaultmesh',
    heartbeatSecs: secs,
    token,
    caFile: env.VAULTMESH_CA_FILE,
    stateDir,
    publicKeys: readPublicKeys(need('VIGIL_AGENT_PUBLIC_KEYS')),
    allowList: readAllowList(env.VIGIL_AGENT_ALLOW_LIST)
  }
}

/** The pinned keys: the JSON of GET /api/fleet/public-keys (`vigil fleet public-key --json`). */
function readPublicKeys (file: string): Map<string, KeyObject> {
  try {
    const { keys } = JSON.parse(readFileSync(file, 'utf8')) as { keys: Array<{ key_id: string, public_key_pem: string }> }
    return new Map(keys.map(k => [k.key_id, createPublicKey(k.public_key_pem)]))
  } catch (cause) {
    throw new VigilError('VGL_FLEET_AGENT_CONFIG_INVALID', `VIGIL_AGENT_PUBLIC_KEYS (${file}) is not the JSON of GET /api/fleet/public-keys: ${(cause as Error).message}`, { variable: 'VIGIL_AGENT_PUBLIC_KEYS', cause })
  }
}

function readAllowList (file: string | undefined): Record<string, AllowListEntry> {
  if (file === undefined) return {}
  try {
    const { commands } = JSON.parse(readFileSync(file, 'utf8')) as { commands: Record<string, AllowListEntry> }
    for (const [name, entry] of Object.entries(commands)) {
      if (!Array.isArray(entry.run) || entry.run.length === 0 || typeof entry.args !== 'object') throw new Error(`command ${name} needs "args" (a JSON Schema) and "run" (an argv)`)
    }
    return commands
  } catch (cause) {
    throw new VigilError('VGL_FLEET_AGENT_CONFIG_INVALID', `VIGIL_AGENT_ALLOW_LIST (${file}): ${(cause as Error).message}`, { variable: 'VIGIL_AGENT_ALLOW_LIST', cause })
  }
}

/** cloudflared is running: a process of that name exists (Linux /proc). */
function cloudflaredRunning (): boolean {
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue
      try { if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'cloudflared') return true } catch { /* the process ended */ }
    }
  } catch { /* not Linux */ }
  return false
}

function rootHealthy (root: string): boolean {
  try { return statSync(root).isDirectory() } catch { return false }
}

export interface RunningAgent {
  readonly nodeId: string
  stop (): Promise<void>
}

export function startAgent (settings: AgentSettings, log: (line: string) => void = () => {}): RunningAgent {
  const dispatcher = new HttpAgent(settings.caFile === undefined ? {} : { connect: { ca: readFileSync(settings.caFile) } })
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(settings.token === undefined ? {} : { authorization: `Bearer ${settings.token}` }) }
  const verifier = new CommandVerifier({
    nodeId: settings.nodeId,
    publicKeys: settings.publicKeys,
    allowList: settings.allowList,
    nonces: new NonceStore(join(settings.stateDir, 'nonces'))
  })
  const stopping = new AbortController()
  const send = async (path: string, body: unknown): Promise<void> => {
    const response = await undiciFetch(`${settings.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body), dispatcher, signal: stopping.signal })
    const text = await response.text()
    if (!response.ok) log(`POST ${path}: ${response.status} ${text}`)
  }

  const beat = async (): Promise<void> => {
    const [one, five, fifteen] = loadavg()
    await send('/api/agent/heartbeat', {
      node_id: settings.nodeId,
      hostname: hostname(),
      os_profile: settings.osProfile,
      cloudflare_ok: cloudflaredRunning(),
      services_ok: rootHealthy(settings.vaultmeshRoot),
      vaultmesh_root: settings.vaultmeshRoot,
      timestamp: new Date().toISOString(),
      uptime_seconds: Math.floor(uptime()),
      load_avg: [one!, five!, fifteen!]
    })
  }
  const heartbeats = (async () => {
    while (!stopping.signal.aborted) {
      await beat().catch(error => { if (!stopping.signal.aborted) log(`heartbeat failed: ${(error as Error).message}`) })
      await new Promise(resolve => { const t = setTimeout(resolve, settings.heartbeatSecs * 1000); stopping.signal.addEventListener('abort', () => { clearTimeout(t); resolve(undefined) }, { once: true }) })
    }
  })()

  // Commands this process already answered: the server lists a command until it has applied its
  // result, so the next poll may bring it once more; that is not a replay to report.
  const answered = new Set<string>()
  const runOne = async (input: unknown): Promise<void> => {
    const c = input as { nonce?: unknown, command?: unknown }
    if (typeof c.nonce === 'string' && answered.has(c.nonce)) return
    if (typeof c.nonce === 'string') answered.add(c.nonce)
    const verdict = verifier.verify(input)
    if (!verdict.ok) {
      log(`refused command ${String(c.command)}: ${verdict.reason} (${verdict.detail})`)
      await send('/api/agent/command-result', { node_id: settings.nodeId, nonce: typeof c.nonce === 'string' && c.nonce !== '' ? c.nonce.slice(0, 200) : 'none', command: typeof c.command === 'string' && c.command !== '' ? c.command.slice(0, 200) : 'unknown', status: 'refused', reason: `${verdict.reason}: ${verdict.detail}`.slice(0, 2000) })
      return
    }
    const { command } = verdict
    const entry = settings.allowList[command.command]!
    const argv = entry.run.map(part => part.replace(/\{([a-zA-Z0-9_]+)\}/g, (_m, name: string) => String(command.args[name] ?? '')))
    const startedAt = new Date().toISOString()
    const outcome = await new Promise<{ code: number | null, stdout: string, stderr: string }>(resolve => {
      execFile(argv[0]!, argv.slice(1), { timeout: entry.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : null
        resolve({ code, stdout, stderr })
      })
    })
    const digest = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`
    await send('/api/agent/command-result', {
      node_id: settings.nodeId,
      nonce: command.nonce,
      command: command.command,
      status: outcome.code === 0 ? 'success' : 'failed',
      exit_code: outcome.code,
      stdout_digest: digest(outcome.stdout),
      stderr_digest: digest(outcome.stderr),
      started_at: startedAt,
      finished_at: new Date().toISOString()
    })
  }

  const commands = (async () => {
    while (!stopping.signal.aborted) {
      try {
        const response = await undiciFetch(`${settings.url}/api/agent/commands?node_id=${settings.nodeId}&wait_ms=25000`, { headers, dispatcher, signal: stopping.signal })
        if (!response.ok) {
          log(`GET /api/agent/commands: ${response.status} ${await response.text()}`)
          await new Promise(resolve => setTimeout(resolve, 2000))
          continue
        }
        const { commands: list } = await response.json() as { commands: unknown[] }
        for (const command of list) await runOne(command)
      } catch (error) {
        if (stopping.signal.aborted) return
        log(`command poll failed: ${(error as Error).message}`)
        await new Promise(resolve => setTimeout(resolve, 2000))
      }
    }
  })()

  return {
    nodeId: settings.nodeId,
    async stop () {
      stopping.abort()
      await Promise.allSettled([heartbeats, commands])
      await dispatcher.close()
    }
  }
}
