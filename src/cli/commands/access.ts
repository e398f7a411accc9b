/**
 * `vigil access`: make tokens and their hashes for access.principals / access.tokenFile, and
 * reload a running server's token file. A token is printed once and never stored by Vigil.
 */
import { Command, Option } from 'commander'
import type { CommandContext } from '../context.ts'
import { VigilError } from '../../errors.ts'
import { hashToken, newToken } from '../../access/index.ts'
import { roles } from '../../http/roles.ts'

async function readAll (stream: NodeJS.ReadableStream): Promise<string> {
  let text = ''
  for await (const chunk of stream) text += String(chunk)
  return text
}

export function createAccessCommand (ctx: CommandContext): Command {
  const access = new Command('access').description('Principals and their tokens (see docs/security.md).')

  access.command('create-token')
    .description('Make a new random token and its entry for access.principals or access.tokenFile. The token is printed once, on stderr; the entry (with the hash only) on stdout.')
    .requiredOption('--name <name>', 'who this is, as the audit trail names it')
    .addOption(new Option('--role <role...>', 'its roles').choices([...roles]).makeOptionMandatory())
    .option('--node-id <id>', 'for an agent: the one node it may act for')
    .action(async (options: { name: string, role: string[], nodeId?: string }) => {
      if (options.role.includes('agent') !== (options.nodeId !== undefined)) {
        throw new VigilError('VGL_CLI_USAGE', options.nodeId === undefined ? 'an agent token needs --node-id' : '--node-id is only for --role agent', { flag: '--node-id' })
      }
      const token = newToken()
      const entry = { name: options.name, roles: [...new Set(options.role)], tokenHash: await hashToken(token), ...(options.nodeId === undefined ? {} : { nodeId: options.nodeId }) }
      ctx.stderr.write(`token (shown once, keep it secret): ${token}\n`)
      ctx.stdout.write(JSON.stringify(entry) + '\n')
    })

  access.command('hash-token')
    .description('Hash a token read from stdin (one line), for a tokenHash; the token itself never appears in a file Vigil reads.')
    .action(async () => {
      const token = (await readAll(ctx.stdin)).split(/\r?\n/)[0]?.trim() ?? ''
      if (token.length < 16) throw new VigilError('VGL_CLI_USAGE', 'give the token on stdin, at least 16 characters', { flag: 'stdin' })
      ctx.stdout.write(await hashToken(token) + '\n')
    })

  access.command('reload')
    .description('Ask the running server (server.host, server.port) to read access.tokenFile again, with an admin token from VIGIL_TOKEN.')
    .option('--url <url>', 'the server (default: http://<server.host>:<server.port>)')
    .action(async (options: { url?: string }) => {
      const config = ctx.config()
      const token = process.env.VIGIL_TOKEN ?? config.server.apiTokens[0]
      if (token === undefined || token === '') throw new VigilError('VGL_CLI_USAGE', 'set VIGIL_TOKEN to an admin token', { flag: 'VIGIL_TOKEN' })
      const url = options.url ?? `http://${config.server.host}:${config.server.port}`
      const response = await fetch(`${url}/v1/access/tokens/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
      const body = await response.json() as { principals?: number, message?: string }
      if (!response.ok) throw new VigilError('VGL_ACCESS_TOKEN_FILE_INVALID', `the server did not reload: ${body.message ?? response.status}`, {})
      ctx.stdout.write(`reloaded: ${body.principals ?? 0} principal(s)\n`)
    })
  return access
}
