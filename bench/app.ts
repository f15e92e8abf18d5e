// The app every contender serves: hello world, and /cpu, ~2 ms of CPU per request.
export default {
  fetch(request: Request): Response {
    if (request.url.endsWith("/cpu")) {
      const end = performance.now() + 2;
      let x = 0;
      while (performance.now() < end) x++;
      return new Response(`cpu ${x}`);
    }
    return new Response("hello");
  },
};
