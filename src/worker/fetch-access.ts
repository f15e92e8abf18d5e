// Access log entries for the native serving path, built from the fetch Request and Response
// (the compat path builds them from node:http's req/res in http-worker.ts).
import type { AccessEntry } from "../log/access.ts";
import type { ServeInfo } from "../types.ts";

/**
 * Returns the response to send, and calls `write` once its body has gone out. A body of unknown
 * length is counted as it streams, which makes the runtime send it chunked: the price of `%(b)s`
 * when the access log is on, since neither runtime tells how many bytes it wrote.
 */
export function logWhenSent(request: Request, info: ServeInfo, res: Response, start: Date, t0: number, write: (e: AccessEntry) => void): Response {
  const entry = (bytes: number): AccessEntry => ({
    remoteAddr: info.remoteAddr.hostname || "-",
    method: request.method,
    target: pathAndQuery(request.url),
    httpVersion: "1.1",
    scheme: request.url.startsWith("https:") ? "https" : "http",
    status: res.status,
    bytes,
    requestHeader: (n) => request.headers.get(n) ?? undefined,
    responseHeader: (n) => res.headers.get(n) ?? undefined,
    start,
    durationMs: performance.now() - t0,
  });
  const length = res.headers.get("content-length");
  if (request.method === "HEAD" || res.body === null || res.status === 101) {
    write(entry(0));
    return res;
  }
  if (length !== null) {
    write(entry(Number(length)));
    return res;
  }
  let bytes = 0;
  const counted = res.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, out) {
      bytes += chunk.byteLength;
      out.enqueue(chunk);
    },
    flush() {
      write(entry(bytes));
    },
  }));
  return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** `/path?query` of an absolute request URL, without parsing it. */
function pathAndQuery(url: string): string {
  const i = url.indexOf("/", url.indexOf("//") + 2);
  return i === -1 ? "/" : url.slice(i);
}
