// Request counters as a worker publishes them and the arbiter adds them up: requests by status
// class, requests in flight, and a latency histogram with fixed bucket bounds (Prometheus's
// defaults), so the worker's cost per request is a few integer increments.

/** Upper bounds (seconds) of the latency buckets; the last, implicit bucket is +Inf. */
export const LATENCY_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
export const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;

export interface WorkerCounters {
  /** Finished requests per status class, indexed like STATUS_CLASSES. */
  byClass: number[];
  inFlight: number;
  /** Non-cumulative counts per bucket: LATENCY_BOUNDS.length + 1 entries, the last is +Inf. */
  buckets: number[];
  /** Sum of the durations, in seconds. */
  sumSeconds: number;
}

export const emptyCounters = (): WorkerCounters => ({
  byClass: STATUS_CLASSES.map(() => 0),
  inFlight: 0,
  buckets: [...LATENCY_BOUNDS.map(() => 0), 0],
  sumSeconds: 0,
});

/** The bucket a duration falls in. */
export function bucketOf(seconds: number): number {
  let i = 0;
  while (i < LATENCY_BOUNDS.length && seconds > LATENCY_BOUNDS[i]) i++;
  return i;
}

/** The status class index of an HTTP status (0 for 1xx … 4 for 5xx; anything else counts as 5xx). */
export function classOf(status: number): number {
  const c = Math.floor(status / 100) - 1;
  return c >= 0 && c < 5 ? c : 4;
}

export function addCounters(into: WorkerCounters, c: WorkerCounters): WorkerCounters {
  c.byClass.forEach((n, i) => (into.byClass[i] += n));
  c.buckets.forEach((n, i) => (into.buckets[i] += n));
  into.inFlight += c.inFlight;
  into.sumSeconds += c.sumSeconds;
  return into;
}

export const total = (c: WorkerCounters): number => c.byClass.reduce((a, b) => a + b, 0);

/** The q-quantile (0..1) estimated from the buckets (linear within a bucket, as Prometheus's histogram_quantile); null with no requests. */
export function quantile(c: WorkerCounters, q: number): number | null {
  const n = c.buckets.reduce((a, b) => a + b, 0);
  if (n === 0) return null;
  const rank = q * n;
  let seen = 0;
  for (let i = 0; i < c.buckets.length; i++) {
    if (seen + c.buckets[i] >= rank && c.buckets[i] > 0) {
      if (i === LATENCY_BOUNDS.length) return LATENCY_BOUNDS[i - 1]; // +Inf: the highest finite bound
      const lo = i === 0 ? 0 : LATENCY_BOUNDS[i - 1], hi = LATENCY_BOUNDS[i];
      return lo + ((hi - lo) * (rank - seen)) / c.buckets[i];
    }
    seen += c.buckets[i];
  }
  return null;
}

// Where the counters sit in the worker's shared counter array (Float64: integers stay exact to 2^53).
const BY_CLASS = 0, IN_FLIGHT = 5, SUM = 6, BUCKETS = 7;
/** Doubles the counters take in the shared array; then the worker's event-loop lag (a gauge). */
export const COUNTER_SLOTS = BUCKETS + LATENCY_BOUNDS.length + 1;
const LAG = COUNTER_SLOTS;

/** Worker: how late its heartbeat timer fired (seconds), as a gauge for the arbiter. */
export function writeLag(a: Float64Array, seconds: number): void {
  a[LAG] = seconds;
}

/** Arbiter: a worker's last event-loop lag in seconds, clamped to 0..1 day. */
export function readLag(a: Float64Array): number {
  const x = a[LAG];
  return Number.isFinite(x) && x > 0 ? Math.round(Math.min(x, 86_400) * 1e6) / 1e6 : 0;
}

/**
 * Worker: counts into shared memory. Per request: the clock read at the start is the caller's
 * (shared with the request trace), then one at the end and five stores; nothing else happens on
 * the request's path. The clock is Date.now(): half the
 * cost of performance.now() on Deno (about 50 against 110 ns, Bun 45 against 50), and whole
 * milliseconds are fine for buckets from 5 ms up; the sum stays right on average, since both
 * ends are truncated alike.
 */
export class CounterWriter {
  constructor(readonly a: Float64Array) {
    if (a.length < COUNTER_SLOTS) throw new Error(`counters need ${COUNTER_SLOTS} slots`);
  }

  /** A request arrived (in flight until finished()). */
  started(): void {
    this.a[IN_FLIGHT]++;
  }

  /** Its response is ready (status known); `t0` is Date.now() when it arrived. */
  finished(status: number, t0: number): void {
    const ms = Date.now() - t0, a = this.a;
    a[IN_FLIGHT]--;
    a[BY_CLASS + (status >= 200 && status < 300 ? 1 : classOf(status))]++;
    // Most answers take under a millisecond: the first bucket, nothing to add to the sum. Never a
    // negative time, should the wall clock step back.
    if (ms <= 0) a[BUCKETS]++;
    else {
      a[SUM] += ms / 1000;
      a[BUCKETS + bucketOf(ms / 1000)]++;
    }
  }
}

/** Arbiter: a worker's counters, each clamped to a finite number ≥ 0 (the worker is not trusted). */
export function readCounters(a: Float64Array): WorkerCounters {
  const v = (i: number) => {
    const x = a[i];
    return Number.isFinite(x) && x > 0 ? x : 0;
  };
  return {
    byClass: STATUS_CLASSES.map((_, i) => v(BY_CLASS + i)),
    inFlight: v(IN_FLIGHT),
    buckets: [...LATENCY_BOUNDS, Infinity].map((_, i) => v(BUCKETS + i)),
    sumSeconds: v(SUM),
  };
}
