// Worker class `node`: serves a Node-style (req, res) listener, or an object with one (Express, Koa).
import http from "node:http";
import { expectAppKind, resolveApp } from "../app/load.ts";
import type { NodeListener } from "./http-compat.ts";
import { HttpWorker } from "./http-worker.ts";
import { limitsOf, refusal } from "./limits.ts";

function* headerPairs(raw: string[]): Iterable<[string, string]> {
  for (let i = 0; i + 1 < raw.length; i += 2) yield [raw[i], raw[i + 1]];
}

export class NodeWorker extends HttpWorker {
  protected listener(): NodeListener {
    const app = expectAppKind(resolveApp(this.appExport, this.app.spec), "node", this.app.spec);
    const listener = app.listener as (req: http.IncomingMessage, res: http.ServerResponse) => unknown;
    // A listener that throws, or an async one that rejects, is a 500 and a logged stack, as in
    // the fetch worker. Left alone, Deno answers a throw with a 400 and dies on a rejection, and
    // Bun leaves the client waiting. (Express catches its own route errors; a bare listener does not.)
    const l = limitsOf(this.cfg), ms = this.cfg.requestTimeout * 1000;
    return (req, res) => {
      const status = refusal(l, req.method ?? "", req.url ?? "", () => headerPairs(req.rawHeaders), req.headers["content-length"]);
      if (status) {
        res.writeHead(status, { "content-type": "text/plain", "connection": "close" });
        res.end(`${http.STATUS_CODES[status]}\n`);
        return;
      }
      if (ms) this.#deadline(req, res, ms);
      try {
        const out = listener(req, res);
        if (out instanceof Promise) out.catch((err) => this.#fail(req, res, err));
      } catch (err) {
        this.#fail(req, res, err);
      }
    };
  }

  /** --request-timeout: 504 if nothing was sent yet, else the connection is cut. */
  #deadline(req: http.IncomingMessage, res: http.ServerResponse, ms: number): void {
    const timer = setTimeout(() => {
      const sent = res.headersSent;
      this.log.warn(`Request timeout (${ms / 1000} s): ${req.method} ${req.url?.split("?")[0]}: ${sent ? "response still streaming: connection closed" : "no response yet: 504"}`);
      if (sent) return void res.destroy();
      res.writeHead(504, { "content-type": "text/plain", "connection": "close" });
      res.end("Gateway Timeout\n");
    }, ms);
    res.once("close", () => clearTimeout(timer));
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
