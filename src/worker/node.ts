// Worker class `node`: serves a Node-style (req, res) listener, or an object with one (Express, Koa).
import type http from "node:http";
import { expectAppKind, resolveApp } from "../app/load.ts";
import type { NodeListener } from "./http-compat.ts";
import { HttpWorker } from "./http-worker.ts";

export class NodeWorker extends HttpWorker {
  protected listener(): NodeListener {
    const app = expectAppKind(resolveApp(this.appExport, this.app.spec), "node", this.app.spec);
    const listener = app.listener as (req: http.IncomingMessage, res: http.ServerResponse) => unknown;
    // A listener that throws, or an async one that rejects, is a 500 and a logged stack, as in
    // the fetch worker. Left alone, Deno answers a throw with a 400 and dies on a rejection, and
    // Bun leaves the client waiting. (Express catches its own route errors; a bare listener does not.)
    return (req, res) => {
      try {
        const out = listener(req, res);
        if (out instanceof Promise) out.catch((err) => this.#fail(req, res, err));
      } catch (err) {
        this.#fail(req, res, err);
      }
    };
  }

  #fail(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
    this.log.error(`Error handling request ${req.method} ${req.url?.split("?")[0]}`, err);
    if (res.headersSent) {
      res.destroy(); // the status line is gone: cut the response so the client sees it is incomplete
      return;
    }
    res.writeHead(500, { "content-type": "text/plain", "connection": "close" });
    res.end("Internal Server Error");
  }
}
