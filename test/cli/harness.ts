/** Runs the `vigil` CLI in this process with its own streams, input and environment. */
import { PassThrough, Readable } from 'node:stream'
import { runCli } from '../../src/cli/main.ts'

export interface CliResult { code: number, stdout: string, stderr: string }

export async function cli (args: string[], input = '', env: Record<string, string> = {}): Promise<CliResult> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const out: string[] = []
  const err: string[] = []
  stdout.on('data', (c) => out.push(String(c)))
  stderr.on('data', (c) => err.push(String(c)))
  const code = await runCli(args, { stdin: Readable.from([input]), stdout, stderr, env })
  return { code, stdout: out.join(''), stderr: err.join('') }
}
