// The pool probe: C keep-alive connections opened at once (a load balancer's upstream pool),
// each driven by its own loop that sends GET PATH and waits for the answer, for S seconds.
// The app answers with its pid last ("... <pid>"); we tally which process answered each
// request. A `Connection: close` answer is followed by a new connection, as a pool would.
// Usage: pool.ts PORT CONNECTIONS SECONDS [PATH]. Prints {"ok","failed","reconnects","byPid","connsByPid","lastByPid"}.
import net from "node:net";
import process from "node:process";

const [port, conns, seconds] = process.argv.slice(2, 5).map(Number);
const urlPath = process.argv[5] ?? "/cpu";
const end = Date.now() + seconds * 1000;
const byPid: Record<string, number> = {};
let ok = 0, failed = 0, reconnects = 0;
/** Which process answered each connection's first request. */
const connsByPid: Record<string, number> = {};
/** Which process answered each of the C client loops last: where the pool sits at the end. */
const lastByPid: Record<string, number> = {};
const REQUEST = `GET ${urlPath} HTTP/1.1\r\nHost: bench\r\n\r\n`;

/** One connection's loop; resolves with the last pid that answered when it closed (by either side) or time is up. */
function drive(): Promise<string> {
  return new Promise((resolve) => {
    let buf = "", closing = false, first = true, last = "";
    const s = net.connect(port, "127.0.0.1", () => s.write(REQUEST));
    s.setNoDelay(true);
    s.setEncoding("latin1");
    s.on("data", (d: string) => {
      buf += d;
      for (;;) {
        const head = buf.indexOf("\r\n\r\n");
        if (head < 0) return;
        const headers = buf.slice(0, head).toLowerCase();
        const len = Number(headers.match(/content-length:\s*(\d+)/)?.[1] ?? -1);
        if (len < 0 || buf.length < head + 4 + len) return; // (the bench app always sends a length)
        const body = buf.slice(head + 4, head + 4 + len);
        buf = buf.slice(head + 4 + len);
        if (headers.startsWith("http/1.1 200")) {
          ok++;
          const pid = body.slice(body.lastIndexOf(" ") + 1);
          byPid[pid] = (byPid[pid] ?? 0) + 1;
          if (first) connsByPid[pid] = (connsByPid[pid] ?? 0) + 1;
          last = pid;
          first = false;
        } else failed++;
        closing = /\nconnection:\s*close/.test(headers);
        if (closing || Date.now() >= end) return void s.end();
        s.write(REQUEST);
      }
    });
    s.on("error", () => {
      if (!closing) failed++;
    });
    s.on("close", () => resolve(last));
  });
}

await Promise.all(Array.from({ length: conns }, async () => {
  // All connections are opened at once; a closed one is replaced at once.
  let last = "";
  for (let first = true; Date.now() < end; first = false) {
    if (!first) reconnects++;
    last = (await drive()) || last;
  }
  if (last) lastByPid[last] = (lastByPid[last] ?? 0) + 1;
}));
process.stdout.write(JSON.stringify({ ok, failed, reconnects, byPid, connsByPid, lastByPid }) + "\n");
process.exit(0);
