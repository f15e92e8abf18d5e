// A custom worker class that serves a Node-style (req, res) app with node:http directly, on the
// sockets inherited from the arbiter. Run it with:
//   guvnor -k ./examples/node-http-worker.ts:NodeHttpWorker examples/hello-node.ts
// (guvnor's own `-k node` does this and more; this file shows the whole contract in one screen.)
import http from "node:http";
import net from "node:net";
import { AppLoadError, Worker } from "guvnor";

type Listener = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export class NodeHttpWorker extends Worker {
  override async run(): Promise<void> {
    // 1. The app: initProcess() imported it into this.appExport before calling run().
    //    An AppLoadError makes the arbiter stop with exit 4 instead of respawning us forever.
    const app = this.appExport;
    if (typeof app !== "function") throw new AppLoadError(`${this.app.spec} must export a (req, res) listener`);

    // 2. One HTTP server, fed by an acceptor per inherited socket. node:net accepts on the fd;
    //    Bun's http.Server.listen({ fd }) would ignore the fd, so the HTTP server never listens itself.
    const inflight = new Map<net.Socket, number>(); // open connection → requests in progress
    let stopping = false;
    const server = http.createServer((req, res) => {
      const conn = req.socket;
      inflight.set(conn, (inflight.get(conn) ?? 0) + 1);
      if (stopping) res.setHeader("connection", "close");
      res.once("close", () => {
        if (!inflight.has(conn)) return;
        const n = inflight.get(conn)! - 1;
        inflight.set(conn, n);
        if (stopping && n === 0) conn.end();
      });
      (app as Listener)(req, res);
    });
    server.keepAliveTimeout = this.cfg.keepAlive * 1000;
    server.on("connection", (conn: net.Socket) => {
      inflight.set(conn, 0);
      conn.once("close", () => inflight.delete(conn));
    });
    const acceptors = await Promise.all(this.sockets.map((s) => acceptOn(s.fd, (conn) => server.emit("connection", conn))));
    this.log.info(`Serving ${this.sockets.map((s) => s.address).join(", ")} with node:http`);

    // 3. Tell the arbiter we are up (initProcess also beats on a timer), then serve until TERM.
    this.notify();
    await this.stopRequested();

    // 4. Graceful stop: accept no more (the other workers take the backlog), close idle
    //    connections, let busy ones finish, and cut what is left at the graceful timeout.
    stopping = true;
    for (const a of acceptors) a.close();
    for (const [conn, n] of inflight) if (n === 0) conn.end();
    const deadline = Date.now() + this.cfg.gracefulTimeout * 1000;
    while (inflight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const conn of inflight.keys()) conn.destroy();
    this.log.info(`Worker exiting (pid: ${process.pid})`);
  }
}

/** A node:net server accepting on an inherited listening fd (works on Bun and Deno). */
function acceptOn(fd: number, onConnection: (conn: net.Socket) => void): Promise<net.Server> {
  const acceptor = net.createServer(onConnection);
  return new Promise((resolve, reject) => {
    acceptor.once("error", reject);
    acceptor.listen({ fd }, () => resolve(acceptor));
  });
}
