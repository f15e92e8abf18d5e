// A custom worker class that is not HTTP at all: a line-based TCP echo on the sockets inherited
// from the arbiter. The app is a function applied to each line. Run it with:
//   guvnor -k ./examples/echo-worker.ts:EchoWorker -b 127.0.0.1:7000 examples/shout.ts
// then `nc 127.0.0.1 7000` and type lines.
import net from "node:net";
import { AppLoadError, Worker } from "guvnor";

type LineApp = (line: string) => string | Promise<string>;

export class EchoWorker extends Worker {
  override async run(): Promise<void> {
    const app = this.appExport;
    if (typeof app !== "function") throw new AppLoadError(`${this.app.spec} must export a function (line) => string`);

    // 1. Accept on every inherited socket (TCP or unix alike): node:net takes the fd as is.
    const open = new Set<net.Socket>();
    const servers = await Promise.all(this.sockets.map((s) =>
      new Promise<net.Server>((resolve, reject) => {
        const server = net.createServer((conn) => this.#session(conn, app as LineApp, open));
        server.once("error", reject);
        server.listen({ fd: s.fd }, () => resolve(server));
      })
    ));
    this.log.info(`Echoing lines on ${this.sockets.map((s) => s.address).join(", ")}`);
    this.notify();

    // 2. Until TERM; then stop accepting, say goodbye, and give clients the graceful timeout to hang up.
    await this.stopRequested();
    for (const server of servers) server.close();
    for (const conn of open) conn.end("bye\n");
    const deadline = Date.now() + this.cfg.gracefulTimeout * 1000;
    while (open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const conn of open) conn.destroy();
    this.log.info(`Worker exiting (pid: ${process.pid})`);
  }

  /** One connection: answers each complete line, in order, with app(line). */
  #session(conn: net.Socket, app: LineApp, open: Set<net.Socket>): void {
    open.add(conn);
    conn.once("close", () => open.delete(conn));
    conn.on("error", (err) => this.log.debug(`connection error: ${err.message}`));
    conn.setEncoding("utf8");
    let buffered = "";
    let replies = Promise.resolve();
    conn.on("data", (text: string) => {
      buffered += text;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        replies = replies.then(async () => {
          try {
            if (!conn.writableEnded) conn.write(`${await app(line.replace(/\r$/, ""))}\n`);
          } catch (err) {
            this.log.error(`Error handling line ${JSON.stringify(line)}`, err);
            conn.end("error\n");
          }
        });
      }
    });
  }
}
