// The app every contender serves: hello world, and /cpu, ~2 ms of CPU per request, answered with
// the pid last so the pool probe can tell which process served it.
import process from "node:process";

export default {
  fetch(request: Request): Response {
    if (request.url.endsWith("/cpu")) {
      const end = performance.now() + 2;
      let x = 0;
      while (performance.now() < end) x++;
      return new Response(`cpu ${x} ${process.pid}`);
    }
    return new Response("hello");
  },
};
