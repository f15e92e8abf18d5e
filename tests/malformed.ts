// A corpus of malformed and hostile HTTP/1.1 requests: request line, headers, framing and
// smuggling. Each is sent raw on its own connection; a server must refuse it (a 4xx, or 501/505
// for what it does not implement, or closing the connection without an answer) and never serve the
// request a smuggling attempt hides (its path is /smuggled).

export interface MalformedCase {
  name: string;
  raw: string | Uint8Array;
  /** Parsing stops at the hidden request: the connection may answer the first part (200), but /smuggled is never served. */
  smuggles?: boolean;
}

const H = "Host: x\r\n";
const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
const post = (headers: string, body: string) => `POST /echo HTTP/1.1\r\n${H}${headers}\r\n${body}`;
const bytes = (...parts: (string | number[])[]) =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...new TextEncoder().encode(p)] : p)));

export const CASES: MalformedCase[] = [
  // The request line
  { name: "not HTTP at all", raw: "GARBAGE\r\n\r\n" },
  { name: "method only", raw: "GET\r\n\r\n" },
  { name: "unknown HTTP version", raw: `GET / HTTP/9.9\r\n${H}\r\n` },
  { name: "a word after the version", raw: `GET / HTTP/1.1 extra\r\n${H}\r\n` },
  { name: "invalid character in the method", raw: `G@T / HTTP/1.1\r\n${H}\r\n` },
  { name: "NUL in the target", raw: bytes("GET /a", [0], `b HTTP/1.1\r\n${H}\r\n`) },
  { name: "space in the target", raw: `GET /a b HTTP/1.1\r\n${H}\r\n` },
  { name: "CR alone inside the request line", raw: `GET /a\rb HTTP/1.1\r\n${H}\r\n` },
  { name: "a 200 KB target", raw: `GET /${"a".repeat(200_000)} HTTP/1.1\r\n${H}\r\n` },
  { name: "a 100 KB method", raw: `${"G".repeat(100_000)} / HTTP/1.1\r\n${H}\r\n` },
  { name: "HTTP/2 preface on cleartext", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" },
  { name: "a TLS ClientHello on cleartext", raw: bytes([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03], "\r\n\r\n") },
  // Headers
  { name: "a header line without a colon", raw: `GET / HTTP/1.1\r\n${H}NoColonHere\r\n\r\n` },
  { name: "whitespace before the colon", raw: `GET / HTTP/1.1\r\nHost : x\r\n\r\n` },
  { name: "obs-fold continuation line", raw: `GET / HTTP/1.1\r\n${H}X-A: one\r\n two\r\n\r\n` },
  { name: "NUL in a header value", raw: bytes(`GET / HTTP/1.1\r\n${H}X-A: a`, [0], "b\r\n\r\n") },
  { name: "CR alone in a header value", raw: `GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n` },
  { name: "invalid character in a header name", raw: `GET / HTTP/1.1\r\n${H}X(A): 1\r\n\r\n` },
  { name: "a 200 KB header", raw: `GET / HTTP/1.1\r\n${H}X-Big: ${"b".repeat(200_000)}\r\n\r\n` },
  { name: "5,000 headers", raw: `GET / HTTP/1.1\r\n${H}${Array.from({ length: 5000 }, (_, i) => `X-${i}: 1\r\n`).join("")}\r\n` },
  // Framing
  { name: "two different Content-Lengths", raw: post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!") },
  { name: "negative Content-Length", raw: post("Content-Length: -1\r\n", "x") },
  { name: "non-numeric Content-Length", raw: post("Content-Length: abc\r\n", "x") },
  { name: "Content-Length with a plus sign", raw: post("Content-Length: +5\r\n", "hello") },
  { name: "Content-Length past 64 bits", raw: post("Content-Length: 99999999999999999999999\r\n", "x") },
  { name: "chunk size not hex", raw: post("Transfer-Encoding: chunked\r\n", "zz\r\nhello\r\n0\r\n\r\n") },
  { name: "chunk size past 64 bits", raw: post("Transfer-Encoding: chunked\r\n", "ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n") },
  { name: "negative chunk size", raw: post("Transfer-Encoding: chunked\r\n", "-5\r\nhello\r\n0\r\n\r\n") },
  { name: "chunk data longer than its size", raw: post("Transfer-Encoding: chunked\r\n", "5\r\nhelloXX\r\n0\r\n\r\n") },
  { name: "unknown transfer coding", raw: post("Transfer-Encoding: cow\r\n", "hello") },
  // Smuggling: the hidden request must never be served
  { name: "CL.TE: Content-Length and chunked", raw: post("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", `0\r\n\r\n${SMUGGLED}`), smuggles: true },
  { name: "TE.CL: chunked hiding a request, short Content-Length", raw: post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`), smuggles: true },
  { name: "duplicate Transfer-Encoding (chunked, identity)", raw: post("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n", `0\r\n\r\n${SMUGGLED}`), smuggles: true },
  { name: "obfuscated Transfer-Encoding: xchunked", raw: post("Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n", `0\r\n\r\n${SMUGGLED}`), smuggles: true },
  { name: "obfuscated Transfer-Encoding: space before the colon", raw: post("Transfer-Encoding : chunked\r\nContent-Length: 5\r\n", `0\r\n\r\n${SMUGGLED}`), smuggles: true },
  { name: "obfuscated Transfer-Encoding: chunked, then identity", raw: post("Transfer-Encoding: chunked, identity\r\nContent-Length: 5\r\n", `0\r\n\r\n${SMUGGLED}`), smuggles: true },
  { name: "obfuscated Transfer-Encoding: obs-folded", raw: post("Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n", `0\r\n\r\n${SMUGGLED}`), smuggles: true },
  { name: "Content-Length with a space before the colon", raw: `POST /echo HTTP/1.1\r\n${H}Content-Length : 5\r\n\r\nhello${SMUGGLED}`, smuggles: true },
  // Floods
  { name: "1,000 pipelined requests with a malformed one in the middle", raw: `${`GET / HTTP/1.1\r\n${H}\r\n`.repeat(500)}GET / HTTP/1.1\r\n${H}Bad Header\r\n\r\n${SMUGGLED.repeat(499)}`, smuggles: true },
];

export type Outcome = { status: number | null; statuses: number[]; raw: string };

/** The status lines of everything a server answered to `raw` before closing (or `capMs`). */
export function outcomeOf(text: string): Outcome {
  const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
  return { status: statuses[0] ?? null, statuses, raw: text.slice(0, 120) };
}

/** A refusal: no answer (closed or timed out), a 4xx, or 501/505 (a coding or version the server does not implement). */
export function refused(status: number | null): boolean {
  return status === null || (status >= 400 && status < 500) || status === 501 || status === 505;
}
