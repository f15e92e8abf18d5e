// The app every contender serves: hello world; /cpu, ~2 ms of CPU per request, answered with the
// pid last so the pool probe can tell which process served it; /spin?ms=N blocks the process.
import process from "node:process";

export default {
  fetch(request: Request): Response {
    if (request.url.endsWith("/cpu")) {
      const end = performance.now() + 2;
      let x = 0;
      while (performance.now() < end) x++;
      return new Response(`cpu ${x} ${process.pid}`);
    }
    if (request.url.includes("/spin?ms=")) {
      // A worker stuck in a handler, for the failure scenarios.
      const end = Date.now() + Number(request.url.slice(request.url.indexOf("ms=") + 3));
      while (Date.now() < end) { /* spin */ }
      return new Response(`spun ${process.pid}`);
    }
    return new Response("hello");
  },
};
