// What some frameworks need from the server besides fetch(request): Bun WebSocket handlers, and
// a reference to the server they upgrade through.

export interface ServerNeeds {
  /** Bun.serve's `websocket` handlers. */
  websocket?: unknown;
  /** Called with the server object the app should hold (native serving on Bun). */
  onServer?: (server: unknown) => void;
}

interface ElysiaLike {
  listen: unknown;
  getServer: unknown;
  server: unknown;
  config?: { websocket?: Record<string, unknown> };
}

type Ws = { data?: Record<string, ((...a: unknown[]) => void) | undefined> };

/** Elysia's socket handlers: each event goes to the route's own handler, carried in ws.data. */
const ELYSIA_DISPATCH = {
  open: (ws: Ws) => ws.data?.open?.(ws),
  message: (ws: Ws, message: unknown) => ws.data?.message?.(ws, message),
  drain: (ws: Ws) => ws.data?.drain?.(ws),
  close: (ws: Ws, code: number, reason: string) => ws.data?.close?.(ws, code, reason),
  ping: (ws: Ws) => ws.data?.ping?.(ws),
  pong: (ws: Ws) => ws.data?.pong?.(ws),
};

export function serverNeeds(app: unknown): ServerNeeds {
  const a = app as Partial<ElysiaLike> & { websocket?: unknown } | undefined;
  if (a?.websocket) return { websocket: a.websocket };
  // Elysia: its .ws() routes upgrade through `app.server`, which only its own listen() sets,
  // and it passes Bun.serve the handlers above with its websocket options.
  if (a && typeof a.listen === "function" && typeof a.getServer === "function" && "server" in a) {
    return {
      websocket: { ...a.config?.websocket, ...ELYSIA_DISPATCH },
      onServer: (server) => void (a.server ??= server),
    };
  }
  return {};
}
