/**
 * `vigil agent`: runs the node agent (src/fleet/agent.ts) until SIGINT or SIGTERM, configured by
 * VaultMesh's variables (VAULTMESH_CC_URL, VAULTMESH_NODE_ID, …); flags override them.
 */
import { Command } from 'commander'
import { agentSettingsFromEnv, startAgent } from '../../fleet/agent.ts'
import type { CommandContext } from '../context.ts'

export function createAgentCommand (ctx: CommandContext): Command {
  return new Command('agent')
    .description('Run a fleet node agent: heartbeats, and signed commands verified against pinned keys, its node id, expiry, an on-disk nonce record and its allow-list (see docs/fleet.md).')
    .option('--url <url>', 'the command center (VAULTMESH_CC_URL)')
    .option('--public-keys <file>', 'JSON of GET /api/fleet/public-keys to pin (VIGIL_AGENT_PUBLIC_KEYS)')
    .option('--allow-list <file>', 'the commands this node runs (VIGIL_AGENT_ALLOW_LIST)')
    .option('--state-dir <dir>', 'node id and nonce record (VIGIL_AGENT_STATE_DIR, default ./data/agent)')
    .option('--token-file <file>', 'file holding the agent token (VAULTMESH_AGENT_TOKEN_FILE)')
    .action(async (options: { url?: string, publicKeys?: string, allowList?: string, stateDir?: string, tokenFile?: string }) => {
      const env = {
        ...process.env,
        ...(options.url === undefined ? {} : { VAULTMESH_CC_URL: options.url }),
        ...(options.publicKeys === undefined ? {} : { VIGIL_AGENT_PUBLIC_KEYS: options.publicKeys }),
        ...(options.allowList === undefined ? {} : { VIGIL_AGENT_ALLOW_LIST: options.allowList }),
        ...(options.stateDir === undefined ? {} : { VIGIL_AGENT_STATE_DIR: options.stateDir }),
        ...(options.tokenFile === undefined ? {} : { VAULTMESH_AGENT_TOKEN_FILE: options.tokenFile })
      }
      const settings = agentSettingsFromEnv(env)
      const agent = startAgent(settings, line => ctx.stderr.write(`${new Date().toISOString()} ${line}\n`))
      ctx.stdout.write(`vigil agent: node ${agent.nodeId} reporting to ${settings.url} every ${settings.heartbeatSecs}s\n`)
      await new Promise<void>(resolve => {
        process.once('SIGINT', resolve)
        process.once('SIGTERM', resolve)
      })
      await agent.stop()
    })
}
