/**
 * Heartbeat ingest through `vigil serve` (a child process, embedded log, fleet component only):
 * `--seconds` of POST /api/agent/heartbeat from `--connections` concurrent connections over
 * `--nodes` distinct node ids, from this process. Prints accepted heartbeats/s, errors, the
 * server's resident memory, and the nodes in the state afterwards.
 *
 *   node bench/fleet-heartbeats.ts --nodes 100000 --seconds 20 --connections 128
 *
 * Not the full benchmark of issue #13 (that needs `vigil fleet simulate`, not written yet): no
 * SSE clients, no latency to the stream, no replay timing.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '100000' }, seconds: { type: 'string', default: '20' }, connections: { type: 'string', default: '128' } } })
const nodes = Number(values.nodes)
const seconds = Number(values.seconds)
const connections = Number(values.connections)

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-fleet-'))
const configFile = join(dir, 'config.json')
writeFileSync(configFile, JSON.stringify({ log: { url: `embedded:${join(dir, 'vigil.db')}` }, server: { port: 0 }, logging: { level: 'warn' }, audit: { enabled: false }, fleet: { signing: { keyFiles: [join(dir, 'key.pem')] } } }))
const vigilBin = fileURLToPath(new URL('../bin/vigil.js', import.meta.url))
const child = spawn(process.execPath, [vigilBin, 'serve', '--config', configFile, '--port', '0'], { env: { PATH: process.env.PATH ?? '', VIGIL_LOGGING_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] })
const url = await new Promise<string>((resolve, reject) => {
  let out = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString()
    const match = /"url":"(http:\/\/[^"]+)"/.exec(out) ?? /(http:\/\/127\.0\.0\.1:\d+)/.exec(out)
    if (match !== null) resolve(match[1]!)
  })
  child.once('exit', code => reject(new Error(`vigil serve exited with ${code}: ${out}`)))
})
for (;;) {
  const ready = await fetch(`${url}/readyz`).then(r => r.status).catch(() => 0)
  if (ready === 200) break
  await new Promise(resolve => setTimeout(resolve, 200))
}

const ids = Array.from({ length: nodes }, () => randomUUID())
const pool = new Pool(url, { connections, pipelining: 1 })
let accepted = 0
let errors = 0
let next = 0
const deadline = Date.now() + seconds * 1000
const started = Date.now()
const worker = async (): Promise<void> => {
  while (Date.now() < deadline) {
    const nodeId = ids[next++ % nodes]!
    const body = `{"node_id":"${nodeId}","hostname":"host-${nodeId.slice(0, 8)}","os_profile":"${nodeId.charCodeAt(0) % 2 === 0 ? 'ArchVault' : 'DebianVault'}","cloudflare_ok":true,"services_ok":true,"vaultmesh_root":"/var/lib/vaultmesh","timestamp":"${new Date().toISOString()}","uptime_seconds":1000,"load_avg":[0.1,0.2,0.3]}`
    const response = await pool.request({ path: '/api/agent/heartbeat', method: 'POST', headers: { 'content-type': 'application/json' }, body })
    await response.body.text()
    if (response.statusCode === 200) accepted++
    else errors++
  }
}
await Promise.all(Array.from({ length: connections }, worker))
const elapsed = (Date.now() - started) / 1000
await new Promise(resolve => setTimeout(resolve, 2000))
const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0)
const summary = await (await fetch(`${url}/api/fleet/summary`)).json() as { total: number }
console.log(JSON.stringify({ nodes, connections, seconds: elapsed, accepted, errors, heartbeatsPerSecond: Math.round(accepted / elapsed), serverRssMiB: Math.round(rssKb / 1024), nodesInState: summary.total, rssKiBPerNode: summary.total > 0 ? Math.round(rssKb / summary.total * 10) / 10 : null }))
await pool.close()
child.kill('SIGTERM')
await new Promise(resolve => child.once('exit', resolve))
