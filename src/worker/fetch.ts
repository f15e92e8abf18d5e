// The default worker class: serves `export default { fetch }` objects and (request) => Response functions.
import type http from "node:http";
import { toNodeHandler } from "srvx/node";
import { AppLoadError } from "../errors.ts";
import { resolveApp } from "../app/load.ts";
import type { FetchHandler, ServeInfo } from "../types.ts";
import type { NodeListener } from "./http-compat.ts";
import { HttpWorker } from "./http-worker.ts";

export class FetchWorker extends HttpWorker {
  protected listener(): NodeListener {
    const app = resolveApp(this.appExport, this.app.spec);
    if (app.kind !== "fetch") {
      throw new AppLoadError(`App "${this.app.spec}" is a Node-style (req, res) listener: serve it with --worker-class node`);
    }
    const fetch = app.fetch, log = this.log;
    const handler = async (request: Request): Promise<Response> => {
      // srvx's request carries the node:http pair it was built from.
      const req = (request as unknown as { runtime?: { node?: { req: http.IncomingMessage } } }).runtime?.node?.req;
      try {
        const res = await fetch(request, serveInfo(req));
        if (res instanceof Response) return res;
        log.error(`Error handling request ${request.method} ${new URL(request.url).pathname}: the app returned ${typeof res === "object" ? String(res) : typeof res}, not a Response`);
      } catch (err) {
        log.error(`Error handling request ${request.method} ${new URL(request.url).pathname}`, err);
      }
      return new Response("Internal Server Error", { status: 500, headers: { "content-type": "text/plain" } });
    };
    return toNodeHandler(handler as Parameters<typeof toNodeHandler>[0]) as NodeListener;
  }
}

function serveInfo(req: http.IncomingMessage | undefined): ServeInfo {
  const hostname = req?.socket.remoteAddress ?? "", port = req?.socket.remotePort ?? 0;
  const family = req?.socket.remoteFamily ?? "";
  return {
    remoteAddr: { hostname, port, transport: hostname ? "tcp" : "unix" },
    requestIP: () => (hostname ? { address: hostname, port, family } : null),
  };
}
