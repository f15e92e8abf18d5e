// Request limits and the request timeout, with gunicorn's names (docs/limits.md says who enforces
// what on each runtime and path). The runtimes' parsers apply their own, larger limits first;
// these checks run on the parsed request, before the app sees it.
import type { WorkerConfig } from "../types.ts";

export interface RequestLimits {
  maxBody: number;
  line: number;
  fields: number;
  fieldSize: number;
}

export function limitsOf(cfg: WorkerConfig): RequestLimits {
  return { maxBody: cfg.maxRequestBody, line: cfg.limitRequestLine, fields: cfg.limitRequestFields, fieldSize: cfg.limitRequestFieldSize };
}

/** A chunked body read past --max-request-body: the app's read rejects with it, and the answer is 413. */
export class BodyTooLarge extends Error {
  readonly code = "E_BODY_TOO_LARGE";
  constructor(max: number) {
    super(`request body larger than --max-request-body (${max} bytes)`);
    this.name = "BodyTooLarge";
  }
}

const REASONS: Record<number, string> = { 413: "Content Too Large", 414: "URI Too Long", 431: "Request Header Fields Too Large", 504: "Gateway Timeout" };

/** A short plain-text error response that also closes the connection (its body may be unread). */
export function errorResponse(status: number): Response {
  return new Response(`${REASONS[status] ?? "Error"}\n`, { status, headers: { "content-type": "text/plain", connection: "close" } });
}

/**
 * The status that refuses a request head (414, 431 or 413), or 0. `target` is path and query;
 * `headers` yields [name, value] pairs. Each check runs only when its limit is set.
 */
export function refusal(l: RequestLimits, method: string, target: string, headers: () => Iterable<[string, string]>, contentLength: string | null | undefined): number {
  // "GET /x HTTP/1.1": method, space, target, space, eight bytes of version.
  if (l.line && method.length + target.length + 10 > l.line) return 414;
  if (l.fields || l.fieldSize) {
    let n = 0;
    for (const [name, value] of headers()) {
      if (l.fieldSize && name.length + value.length + 2 > l.fieldSize) return 431;
      n++;
    }
    if (l.fields && n > l.fields) return 431;
  }
  if (l.maxBody && contentLength != null && Number(contentLength) > l.maxBody) return 413;
  return 0;
}

/** For a chunked body (no Content-Length), the request whose body errors once it passes `max` bytes. */
export function limitChunkedBody(request: Request, max: number): Request {
  if (!max || !request.headers.has("transfer-encoding") || request.body === null) return request;
  let n = 0;
  const body = request.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, out) {
      n += chunk.byteLength;
      if (n > max) out.error(new BodyTooLarge(max));
      else out.enqueue(chunk);
    },
  }));
  return derive(request, { body });
}

/**
 * A copy of `request` with some of its init replaced. Deno will not copy a Request it did not
 * make (the compat path's request is srvx's), so that one is rebuilt from its parts.
 */
function derive(request: Request, init: RequestInit): Request {
  try {
    return new Request(request, { duplex: "half", ...init } as RequestInit);
  } catch {
    const { method, headers, body, signal } = request;
    return new Request(request.url, { method, headers, body, signal, duplex: "half", ...init } as RequestInit);
  }
}

/** True when `err` (or its cause) is a BodyTooLarge, or Bun's own maxRequestBodySize error. */
export function isBodyTooLarge(err: unknown): boolean {
  for (let e = err, i = 0; e && i < 5; e = (e as Error).cause, i++) {
    if (e instanceof BodyTooLarge || /exceeded maxRequestBodySize/.test((e as Error).message)) return true;
  }
  return false;
}

type Answer = Response | undefined;

/**
 * Calls `call` with a request whose signal aborts after `ms`. Not answered by then: 504. Answered
 * but its body still streaming at the deadline: the body errors, which closes the connection.
 * `onCut` says which. A WebSocket upgrade is passed through untouched: the runtime's upgrade
 * needs its own request object, and a session is not a request to time.
 */
export function withDeadline(request: Request, ms: number, call: (r: Request) => Answer | Promise<Answer>, onCut: (what: string) => void): Answer | Promise<Answer> {
  if (request.headers.has("upgrade")) return call(request);
  const ctl = new AbortController(), deadline = performance.now() + ms;
  const expire = (what: string) => {
    ctl.abort(new DOMException(`request timeout (${ms / 1000} s)`, "TimeoutError"));
    onCut(what);
  };
  const req = derive(request, { signal: AbortSignal.any([request.signal, ctl.signal]) });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<Response>((resolve) => {
    timer = setTimeout(() => {
      expire("no response yet: 504");
      resolve(errorResponse(504));
    }, ms);
  });
  const answered = Promise.resolve(call(req)).then((res) => {
    clearTimeout(timer);
    if (!res?.body || ctl.signal.aborted) return res;
    let cut: ReturnType<typeof setTimeout> | undefined;
    const body = res.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
      start(out) {
        cut = setTimeout(() => {
          expire("response still streaming: connection closed");
          out.error(new DOMException(`--request-timeout (${ms / 1000} s) cut this response`, "TimeoutError"));
        }, Math.max(0, deadline - performance.now()));
      },
      flush: () => clearTimeout(cut),
      cancel: () => clearTimeout(cut),
    } as Transformer<Uint8Array, Uint8Array>));
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  }, (err) => {
    clearTimeout(timer);
    throw err;
  });
  return Promise.race([answered, late]);
}
