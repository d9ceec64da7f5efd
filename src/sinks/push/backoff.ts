/**
 * Retry delays: exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential
 * Backoff and Jitter", 2015; Vector's default jitter mode). The n-th consecutive failure waits a
 * uniformly random time in [0, min(cap, initial·2^(n-1))] (but at least 1 ms). Full jitter spreads the retries of
 * many agents that lost the same backend at the same moment, so they do not hit it in waves when
 * it comes back; the cap is Bucky3's `max_flush_interval`: a backend that has been down for an
 * hour is still tried every `cap` at worst.
 */

/** The upper bound of the n-th retry delay (n ≥ 1), before jitter. */
export function backoffCeiling(attempt: number, initialMs: number, capMs: number): number {
  // 2^n overflows to Infinity long after it passes any sane cap, and Math.min handles Infinity.
  return Math.min(capMs, initialMs * 2 ** Math.max(0, attempt - 1));
}

/**
 * The delay before the n-th retry; `random` returns values in [0, 1) like Math.random. At least
 * 1 ms, so that unlucky draws near 0 never make a busy loop of retries.
 */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  capMs: number,
  random: () => number,
): number {
  return Math.max(1, Math.floor(random() * backoffCeiling(attempt, initialMs, capMs)));
}
