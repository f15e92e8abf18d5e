// One worker's scoreboard: a page of memory the arbiter creates (sys/memory.ts), hands to the
// worker as a descriptor at spawn, and both map. The worker writes its heartbeat, readiness,
// recycle request and the request it is serving with plain memory stores (no system call per
// request or beat); the arbiter reads them from its own mapping. Nothing here has a path, so
// neither the worker nor another local user can point the arbiter at some other file.
//
// The worker is untrusted: the arbiter reads only numbers and a bounded, sanitised request line,
// and never acts on a value it has not clamped.

/** Bytes of one scoreboard. */
export const SCOREBOARD_SIZE = 4096;

const MAGIC = 0x72_6e_76_67; // "gvnr"
// Layout, little-endian: [0] u32 magic, [4] u32 flags, [8] f64 last beat (ms since the epoch),
// [16] u32 recycle reason, [20] u32 trace length, [24] f64 trace start, [64, 1024) counters,
// [1024, 2048) the request line being served.
const FLAGS = 4, BEAT = 8, RECYCLE = 16, TRACE_LEN = 20, TRACE_AT = 24;
const COUNTERS = 64, COUNTERS_END = 1024, TRACE = 1024, TRACE_END = 2048;
const SERVING = 1;
/** Characters of the request line the worker writes (the arbiter prints at most 200). */
const TRACE_CHARS = 256;
const printable = (c: number): number => (c >= 0x20 && c < 0x7f ? c : 0x3f);

/** Why a worker asks to be replaced: a code, so the arbiter never prints text the worker wrote. */
export const RECYCLE_REASONS = {
  1: "max-requests reached",
  2: "the worker asked to be recycled",
} as const;
export type RecycleReason = keyof typeof RECYCLE_REASONS;

export class Scoreboard {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  // Typed views for the worker's per-request stores: native byte order, little-endian on every
  // platform Bun and Deno run on, as the DataView reads expect.
  readonly #f64: Float64Array;
  readonly #u32: Uint32Array;
  #lastMethod = "";
  #lastTarget = "";

  readonly #source?: (into: Uint8Array) => void;

  /**
   * `memory`: the worker's shared mapping, or (the arbiter) a private copy that `source` fills
   * from the worker's file on refresh().
   */
  constructor(memory: Uint8Array = new Uint8Array(SCOREBOARD_SIZE), source?: (into: Uint8Array) => void) {
    if (memory.byteLength < SCOREBOARD_SIZE) throw new Error(`a scoreboard needs ${SCOREBOARD_SIZE} bytes`);
    this.#bytes = memory;
    this.#view = new DataView(memory.buffer, memory.byteOffset, SCOREBOARD_SIZE);
    this.#f64 = new Float64Array(memory.buffer, memory.byteOffset, SCOREBOARD_SIZE / 8);
    this.#u32 = new Uint32Array(memory.buffer, memory.byteOffset, SCOREBOARD_SIZE / 4);
    this.#source = source;
  }

  /** Arbiter: reads the worker's current values into this copy (a no-op over shared memory). */
  refresh(): this {
    this.#source?.(this.#bytes);
    return this;
  }

  // --- the arbiter's side ---

  /** Arbiter: marks fresh memory as a scoreboard (a worker checks the mark before it trusts the fd). */
  init(): this {
    this.#view.setUint32(0, MAGIC, true);
    return this;
  }

  /** The mark init() wrote, for the arbiter to write into a new worker's file. */
  get mark(): Uint8Array {
    return this.#bytes.subarray(0, 4);
  }

  get valid(): boolean {
    return this.#view.getUint32(0, true) === MAGIC;
  }

  /** The worker said it serves (its first notify()). */
  get serving(): boolean {
    return (this.#view.getUint32(FLAGS, true) & SERVING) !== 0;
  }

  /**
   * The last beat as the worker wrote it. The arbiter only compares it with the previous value:
   * it times beats by its own clock, so a worker cannot stay alive by writing a future time.
   */
  get lastBeat(): number {
    return this.#view.getFloat64(BEAT, true);
  }

  /** Why the worker asks to be replaced, or null. */
  get recycleRequest(): string | null {
    const code = this.#view.getUint32(RECYCLE, true);
    return code in RECYCLE_REASONS ? RECYCLE_REASONS[code as RecycleReason] : null;
  }

  /** The last request the worker started, printable and bounded, and when; null if none. */
  trace(): { request: string; startedAt: number } | null {
    const len = this.#view.getUint32(TRACE_LEN, true);
    if (!len || len > TRACE_END - TRACE) return null;
    const raw = new TextDecoder().decode(this.#bytes.subarray(TRACE, TRACE + len));
    // Only printable characters reach the log: a worker must not be able to forge log lines.
    return { request: raw.replace(/[^\x20-\x7e]/g, "?").slice(0, 200), startedAt: this.#view.getFloat64(TRACE_AT, true) };
  }

  // --- the worker's side ---

  /** Worker: one heartbeat; the first one also says "serving". */
  beat(now: number = Date.now()): void {
    this.#view.setFloat64(BEAT, now, true);
    this.#view.setUint32(FLAGS, this.#view.getUint32(FLAGS, true) | SERVING, true);
  }

  /** Worker: asks the arbiter to start a replacement, then stop this worker. */
  requestRecycle(reason: RecycleReason): void {
    this.#view.setUint32(RECYCLE, reason, true);
  }

  /**
   * Worker: a request starts ("GET /path?query"); kept for the arbiter's WORKER TIMEOUT line.
   * Runs per request, so it is plain stores: the time always, the line only when it differs from
   * the last one (a keep-alive client asking for the same path again costs two string compares),
   * copied a character at a time, cut at TRACE_CHARS (the arbiter prints at most 200), with
   * anything outside printable ASCII as "?" (the arbiter would print "?" for it anyway).
   */
  traceStarted(method: string, target: string, at: number = Date.now()): void {
    this.#f64[TRACE_AT / 8] = at;
    if (target === this.#lastTarget && method === this.#lastMethod) return;
    this.#lastTarget = target;
    this.#lastMethod = method;
    const b = this.#bytes;
    let n = TRACE;
    for (let i = 0; i < method.length && n < TRACE + TRACE_CHARS; i++) b[n++] = printable(method.charCodeAt(i));
    b[n++] = 0x20;
    for (let i = 0; i < target.length && n < TRACE + TRACE_CHARS; i++) b[n++] = printable(target.charCodeAt(i));
    this.#u32[TRACE_LEN / 4] = n - TRACE;
  }

  /** Room for per-worker counters (metrics): 120 doubles the worker adds to and the arbiter reads. */
  counters(): Float64Array {
    return new Float64Array(this.#bytes.buffer, this.#bytes.byteOffset + COUNTERS, (COUNTERS_END - COUNTERS) / 8);
  }
}
