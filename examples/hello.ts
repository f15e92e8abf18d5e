// The smallest guvnor app: `npx guvnor -w 2 examples/hello.ts`
export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    return new Response(`Hello from guvnor worker ${process.pid} at ${url.pathname}\n`);
  },
};
