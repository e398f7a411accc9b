/**
 * The archiver's recent rate (records per second), from samples of its running total: what a
 * 503's Retry-After is sized from. Samples closer than `spacingMs` are skipped and those older
 * than `windowMs` dropped, so the cost per sample is constant.
 */
export class RateMeter {
  readonly #samples: Array<{ atMs: number, total: number }> = []
  readonly #windowMs: number
  readonly #spacingMs: number

  constructor (windowMs = 10_000, spacingMs = 250) {
    this.#windowMs = windowMs
    this.#spacingMs = spacingMs
  }

  observe (atMs: number, total: number): void {
    const last = this.#samples[this.#samples.length - 1]
    if (last !== undefined && atMs - last.atMs < this.#spacingMs) return
    this.#samples.push({ atMs, total })
    while (this.#samples.length > 2 && atMs - (this.#samples[0] as { atMs: number }).atMs > this.#windowMs) this.#samples.shift()
  }

  /** Records per second over the window; undefined until two samples at least a second apart exist. */
  perSecond (): number | undefined {
    const first = this.#samples[0]
    const last = this.#samples[this.#samples.length - 1]
    if (first === undefined || last === undefined || last.atMs - first.atMs < 1000) return undefined
    return (last.total - first.total) * 1000 / (last.atMs - first.atMs)
  }
}

/**
 * Seconds until `excess` records' room is free at `rate` records/s, rounded up, between 1 and
 * `maxSeconds`; `fallbackSeconds` while the rate is unknown or zero (a stalled archiver).
 */
export function retryAfterSeconds (excess: number, rate: number | undefined, fallbackSeconds = 5, maxSeconds = 60): number {
  if (rate === undefined || !(rate > 0)) return fallbackSeconds
  return Math.min(maxSeconds, Math.max(1, Math.ceil(excess / rate)))
}
