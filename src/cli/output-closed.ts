/**
 * Notices when the reader of the CLI's output goes away (`vigil topics describe x | head -c1`).
 * A write to a closed pipe fails with EPIPE as an 'error' event on stdout; with no listener Node
 * turns that into an uncaught exception and a stack trace. The CLI watches its stdout here, in
 * one place for every command, and ends quietly instead: nobody is left to read the rest.
 */
import type { Writable } from 'node:stream'

export interface OutputWatch {
  /** Resolves when the output's reader has gone (EPIPE, or the stream destroyed after it). */
  readonly closed: Promise<void>
}

/** Error codes that mean the reader is gone, not that writing is broken. */
const readerGoneCodes = new Set(['EPIPE', 'ERR_STREAM_DESTROYED', 'ECONNRESET'])
const watched = new WeakMap<Writable, OutputWatch>()

/**
 * Watches `output` for as long as it lives: the EPIPE of a write is emitted a tick after the
 * write, often after the command has ended, so the listener is never removed.
 */
export function watchOutputClosed (output: Writable): OutputWatch {
  const known = watched.get(output)
  if (known !== undefined) return known
  let resolveClosed: () => void = () => {}
  const closed = new Promise<void>(resolve => { resolveClosed = resolve })
  output.on('error', (error: NodeJS.ErrnoException) => {
    if (readerGoneCodes.has(error.code ?? '')) {
      resolveClosed()
      return
    }
    // Another write error (disk full behind a redirect): the command must not go on silently.
    // Rethrown outside the emitter so it ends the process the way an unwatched stream would.
    queueMicrotask(() => { throw error })
  })
  const watch = { closed }
  watched.set(output, watch)
  return watch
}
