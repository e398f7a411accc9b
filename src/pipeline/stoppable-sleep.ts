/** Sleeps that stop() cuts short: the poll loop's and the dead-letter writer's backoffs. */
export class StoppableSleep {
  readonly #sleepers = new Set<() => void>()

  sleep (ms: number): Promise<void> {
    return new Promise(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        this.#sleepers.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#sleepers.add(done)
    })
  }

  /** Ends every sleep now. */
  wakeAll (): void {
    for (const wake of this.#sleepers) wake()
  }
}
