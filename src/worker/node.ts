// Worker class `node`: serves a Node-style (req, res) listener, or an object with one (Express, Koa).
import { resolveApp } from "../app/load.ts";
import { AppLoadError } from "../errors.ts";
import type { NodeListener } from "./http-compat.ts";
import { HttpWorker } from "./http-worker.ts";

export class NodeWorker extends HttpWorker {
  protected listener(): NodeListener {
    const app = resolveApp(this.appExport, this.app.spec);
    if (app.kind !== "node") {
      throw new AppLoadError(`App "${this.app.spec}" is a fetch-style app: serve it with --worker-class fetch`);
    }
    return app.listener as NodeListener;
  }
}
