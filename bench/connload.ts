// New connection per request: C client loops, each connects, sends one GET with
// Connection: close and reads to the end. wrk cannot do this against Bun.serve: it counts
// every such request as a read error, though each response arrives whole. Usage: connload.ts PORT C SECONDS
import net from "node:net";
import process from "node:process";

const [port, clients, seconds] = process.argv.slice(2).map(Number);
const end = Date.now() + seconds * 1000;
let ok = 0, failed = 0;
const one = () => new Promise<void>((resolve) => {
  let head = "";
  const s = net.connect(port, "127.0.0.1", () => s.write("GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"));
  s.on("data", (d) => { if (head.length < 12) head += d; });
  s.on("error", () => {}); // counted on close
  s.on("close", () => { if (head.startsWith("HTTP/1.1 200")) ok++; else failed++; resolve(); });
});
await Promise.all(Array.from({ length: clients }, async () => { while (Date.now() < end) await one(); }));
process.stdout.write(JSON.stringify({ rps: ok / seconds, ok, failed }) + "\n");
process.exit(0);
