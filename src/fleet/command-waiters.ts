/**
 * Long-poll waiters for GET /api/agent/commands: an agent's request waits here until the
 * projector applies a command for its node, or its wait_ms runs out, or it disconnects.
 */
export class CommandWaiters {
  readonly #waiting = new Map<string, Set<() => void>>()

  get size (): number {
    let n = 0
    for (const set of this.#waiting.values()) n += set.size
    return n
  }

  /** Resolves when a command for the node arrives, after timeoutMs, or when signal aborts. */
  wait (nodeId: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise(resolve => {
      let set = this.#waiting.get(nodeId)
      if (set === undefined) this.#waiting.set(nodeId, set = new Set())
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        set.delete(done)
        if (set.size === 0 && this.#waiting.get(nodeId) === set) this.#waiting.delete(nodeId)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      signal.addEventListener('abort', done, { once: true })
      set.add(done)
    })
  }

  /** Answers every waiting poll (the server is closing). */
  releaseAll (): void {
    for (const set of [...this.#waiting.values()]) for (const done of [...set]) done()
  }

  notify (nodeId: string): void {
    const set = this.#waiting.get(nodeId)
    if (set !== undefined) for (const done of [...set]) done()
  }
}
