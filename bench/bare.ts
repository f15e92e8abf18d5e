// Bare runtime servers for the bench: Bun.serve / Deno.serve on PORT, with SO_REUSEPORT when
// REUSE_PORT=1 (the hand-rolled cluster: N of these on one port, Bun's documented recipe).
import process from "node:process";
import app from "./app.ts";

const port = Number(process.env.PORT), reusePort = process.env.REUSE_PORT === "1";
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
if (g.Bun) g.Bun.serve({ hostname: "127.0.0.1", port, reusePort, fetch: app.fetch });
else g.Deno.serve({ hostname: "127.0.0.1", port, reusePort, onListen() {} }, app.fetch);
