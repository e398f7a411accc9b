/** The ops tests' CLI runner: test/cli/harness.ts with no input, the environment second. */
import { cli as runVigil, type CliResult } from '../cli/harness.ts'

export type { CliResult }

export async function cli (args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return await runVigil(args, '', env)
}
