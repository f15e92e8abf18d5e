// Access log entries for the native serving path, built from the fetch Request and Response
// (the compat path builds them from node:http's req/res in http-worker.ts).
import type { AccessEntry } from "../log/access.ts";
import type { ServeInfo } from "../types.ts";

/** What the log line needs from before the app ran: after a WebSocket upgrade the request is gone. */
export interface RequestSeen {
  remoteAddr: string;
  headers: Headers;
  start: Date;
  t0: number;
}

/**
 * Call before the app. Deno closes an upgraded request (its headers then throw "Request closed",
 * and a throw there ends Deno.serve's accept loop), and Bun's requestIP() returns null once the
 * socket became a WebSocket; so an upgrade request's headers and the address are read now.
 */
export function seeRequest(request: Request, info: ServeInfo): RequestSeen {
  const headers = request.headers.has("upgrade") ? new Headers(request.headers) : request.headers;
  return { remoteAddr: info.remoteAddr.hostname || "-", headers, start: new Date(), t0: performance.now() };
}

function entry(request: Request, seen: RequestSeen, status: number, bytes: number, res?: Response): AccessEntry {
  return {
    remoteAddr: seen.remoteAddr,
    method: request.method,
    target: pathAndQuery(request.url),
    httpVersion: "1.1",
    scheme: request.url.startsWith("https:") ? "https" : "http",
    status,
    bytes,
    requestHeader: (n) => seen.headers.get(n) ?? undefined,
    responseHeader: (n) => res?.headers.get(n) ?? undefined,
    start: seen.start,
    durationMs: performance.now() - seen.t0,
  };
}

/** The line of a request the runtime switched to a WebSocket (Bun: server.upgrade() took it). */
export function logUpgrade(request: Request, seen: RequestSeen, write: (e: AccessEntry) => void): void {
  write(entry(request, seen, 101, 0));
}

/**
 * Returns the response to send, and calls `write` once its body has gone out (or the client
 * went away first). A body of unknown length is counted as it streams, which makes the runtime
 * send it chunked: the price of `%(b)s` when the access log is on, since neither runtime tells
 * how many bytes it wrote.
 */
export function logWhenSent(request: Request, seen: RequestSeen, res: Response, write: (e: AccessEntry) => void): Response {
  const length = res.headers.get("content-length");
  if (request.method === "HEAD" || res.body === null || res.status === 101) {
    write(entry(request, seen, res.status, 0, res));
    return res;
  }
  if (length !== null) {
    write(entry(request, seen, res.status, Number(length), res));
    return res;
  }
  let bytes = 0, logged = false;
  const once = () => {
    if (!logged) write(entry(request, seen, res.status, bytes, res));
    logged = true;
  };
  const counted = res.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, out) {
      bytes += chunk.byteLength;
      out.enqueue(chunk);
    },
    flush: once,
    cancel: once, // the client went away mid-body: log what was sent
  } as Transformer<Uint8Array, Uint8Array>));
  return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** `/path?query` of an absolute request URL, without parsing it. */
function pathAndQuery(url: string): string {
  const i = url.indexOf("/", url.indexOf("//") + 2);
  return i === -1 ? "/" : url.slice(i);
}
