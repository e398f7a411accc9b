/**
 * The retry policy: exponential backoff with jitter and a cap, Retry-After honoured (within
 * maxRetryAfterMs), and a bounded number of attempts. Pure: the runtime asks it what to do next.
 */
import type { Classified } from './classify.ts'

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = never retry). */
  maxAttempts: number
  initialDelayMs: number
  multiplier: number
  maxDelayMs: number
  /** 0..1: each delay is spread uniformly over ±jitterRatio of itself (0.2 → 80 %..120 %). */
  jitterRatio: number
  /** Longest Retry-After honoured; a longer one is cut to this. */
  maxRetryAfterMs: number
}

export const defaultRetryPolicy: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 3,
  initialDelayMs: 500,
  multiplier: 2,
  maxDelayMs: 30_000,
  jitterRatio: 0.2,
  maxRetryAfterMs: 300_000
})

export type RetryDecision =
  | { action: 'retry', delayMs: number }
  | { action: 'dead-letter' }

/** The delay before attempt `failedAttempts + 1`: initial × multiplier^(failed-1), jittered, capped. */
export function backoffDelay (policy: RetryPolicy, failedAttempts: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, failedAttempts - 1)
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** exponent)
  const spread = base * policy.jitterRatio * (2 * random() - 1)
  return Math.max(0, Math.min(policy.maxDelayMs, Math.round(base + spread)))
}

/**
 * What to do after a failed attempt. `failedAttempts` counts attempts that counted against the
 * limit (blocking failures do not); `attempts` counts every attempt. Permanent failures are
 * dead-lettered at once.
 */
export function decideRetry (policy: RetryPolicy, failure: Classified, failedAttempts: number, random: () => number = Math.random, attempts = failedAttempts): RetryDecision {
  if (!failure.retryable) return { action: 'dead-letter' }
  const retryAfter = failure.retryAfterMs === undefined ? 0 : Math.min(failure.retryAfterMs, policy.maxRetryAfterMs)
  if (failure.blocking) {
    // The target refuses or cannot be reached at all: back off up to maxDelayMs, never dead-letter.
    return { action: 'retry', delayMs: Math.max(backoffDelay(policy, attempts, random), retryAfter) }
  }
  if (failedAttempts >= policy.maxAttempts) return { action: 'dead-letter' }
  const delay = backoffDelay(policy, failedAttempts, random)
  return { action: 'retry', delayMs: Math.max(delay, retryAfter) }
}
