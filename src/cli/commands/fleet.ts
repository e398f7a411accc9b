/**
 * `vigil fleet`: the fleet from a terminal, over a running server's HTTP API (--url, default
 * http://127.0.0.1:<server.port>; --token or VIGIL_TOKEN), and the command signing public keys
 * straight from the configured keys.
 */
import { Command } from 'commander'
import { loadSigningKeys } from '../../fleet/signing-keys.ts'
import { VigilError } from '../../errors.ts'
import type { CommandContext } from '../context.ts'

export function createFleetCommand (ctx: CommandContext): Command {
  const fleet = new Command('fleet').description('Fleet nodes, events and signed commands (over a running `vigil serve`).')
    .option('--url <url>', 'the server (default http://127.0.0.1:<server.port>)')
    .option('--token <token>', 'API token (default VIGIL_TOKEN)')

  const call = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> => {
    const { url, token } = fleet.opts<{ url?: string, token?: string }>()
    const base = (url ?? `http://127.0.0.1:${ctx.config().server.port}`).replace(/\/+$/, '')
    const bearer = token ?? process.env.VIGIL_TOKEN
    let response: Response
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
    } catch (cause) {
      throw new VigilError('VGL_CLI_USAGE', `cannot reach ${base}: ${(cause as Error).message}`, { cause, hint: 'Start `vigil serve`, or give --url.' })
    }
    const answer = await response.json() as Record<string, unknown>
    if (!response.ok) throw new VigilError('VGL_CLI_USAGE', `${method} ${path}: ${response.status} ${String(answer.error ?? answer.message ?? '')}`, { hint: String(answer.hint ?? 'See docs/fleet.md.') })
    return answer
  }
  const print = (value: unknown): void => { ctx.stdout.write(JSON.stringify(value, null, 2) + '\n') }

  fleet.command('nodes').description('List nodes (filters as GET /api/fleet/nodes).')
    .option('--profile <p>').option('--reason <r>').option('--state <s>', 'healthy or attention').option('--q <text>').option('--sort <key>').option('--order <o>').option('--limit <n>')
    .action(async (o: Record<string, string>) => {
      const answer = await call('GET', `/api/fleet/nodes?${new URLSearchParams(o).toString()}`) as { total: number, nodes: Array<Record<string, unknown>> }
      ctx.stdout.write(`${answer.total} node(s)\n`)
      for (const n of answer.nodes) ctx.stdout.write(`${String(n.node_id)}  ${String(n.hostname)}  ${String(n.os_profile)}  ${String(n.state)}${(n.reasons as string[]).length > 0 ? ` (${(n.reasons as string[]).join(', ')})` : ''}  last seen ${String(n.last_seen)}\n`)
    })
  fleet.command('node <node_id>').description('One node in full (GET /api/fleet/nodes/:node_id).')
    .action(async (nodeId: string) => { print(await call('GET', `/api/fleet/nodes/${encodeURIComponent(nodeId)}`)) })
  fleet.command('events').description('Recent operator events (GET /api/events).')
    .option('--since <time>').option('--kind <kinds>').option('--node-id <id>').option('--limit <n>')
    .action(async (o: { since?: string, kind?: string, nodeId?: string, limit?: string }) => {
      const q = new URLSearchParams({ ...(o.since === undefined ? {} : { since: o.since }), ...(o.kind === undefined ? {} : { kind: o.kind }), ...(o.nodeId === undefined ? {} : { node_id: o.nodeId }), ...(o.limit === undefined ? {} : { limit: o.limit }) })
      print(await call('GET', `/api/events?${q.toString()}`))
    })
  fleet.command('command <command>').description('Issue a signed command to a node (--node-id) or a profile (--os-profile).')
    .option('--node-id <id>').option('--os-profile <profile>').option('--args <json>', 'arguments as JSON', '{}').option('--ttl <seconds>')
    .action(async (command: string, o: { nodeId?: string, osProfile?: string, args: string, ttl?: string }) => {
      let args: unknown
      try { args = JSON.parse(o.args) } catch { throw new VigilError('VGL_CLI_USAGE', `--args is not JSON: ${o.args}`, { flag: '--args' }) }
      print(await call('POST', '/api/fleet/commands', { command, args, ...(o.nodeId === undefined ? {} : { node_id: o.nodeId }), ...(o.osProfile === undefined ? {} : { os_profile: o.osProfile }), ...(o.ttl === undefined ? {} : { ttl_s: Number(o.ttl) }) }))
    })
  fleet.command('public-key').description('The command signing public keys, from the configured keys (no server needed); --json prints what agents pin (VIGIL_AGENT_PUBLIC_KEYS).')
    .option('--json', 'the JSON of GET /api/fleet/public-keys')
    .action((o: { json?: boolean }) => {
      const keys = loadSigningKeys(ctx.config().fleet.signing)
      if (o.json === true) print({ keys: keys.all.map(k => ({ key_id: k.keyId, public_key_pem: k.publicKeyPem, active: k === keys.active })) })
      else for (const k of keys.all) ctx.stdout.write(`# key_id ${k.keyId}${k === keys.active ? ' (signs)' : ''}\n${k.publicKeyPem}`)
    })
  return fleet
}
