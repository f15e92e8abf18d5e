// A Node-style (req, res) app: `guvnor -k node examples/hello-node.ts`, or with the custom
// worker in examples/node-http-worker.ts.
import type { IncomingMessage, ServerResponse } from "node:http";

export default function hello(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader("content-type", "text/plain");
  res.end(`hello ${req.url}, from worker ${process.pid}\n`);
}
