/**
 * What every CLI command gets: the merged configuration (global --config/--log flags, VIGIL_*
 * environment, file), a lazily connected log that the CLI closes on exit, and the streams to use
 * (tests swap them). Commands throw VigilError; the CLI prints it with its hint and exits non-zero.
 */
import type { Readable, Writable } from 'node:stream'
import type { VigilConfig } from '../config/schema.ts'
import type { Log } from '../log/types.ts'

export interface CommandContext {
  config (): Readonly<VigilConfig>
  /** Connects on first call; the same Log afterwards. Closed by the CLI when the command ends. */
  openLog (): Promise<Log>
  readonly stdin: Readable
  readonly stdout: Writable
  readonly stderr: Writable
}
