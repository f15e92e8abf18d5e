// guvnor as a library: this program is the arbiter, and — started again by it — each worker.
// Run it: `bun examples/embed.ts`, or compile it: `bun build --compile examples/embed.ts --outfile embed`.
import { serve } from "guvnor";

const app = {
  fetch(request: Request): Response {
    return new Response(`embedded app, worker ${process.pid}, ${new URL(request.url).pathname}\n`);
  },
};

await serve({ app, workers: 2, bind: ["127.0.0.1:8080"] });
