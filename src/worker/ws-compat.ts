// WebSocket upgrades on the compat path, for apps written against either runtime's API: Bun's
// `info.upgrade(request, { data, headers })` with a `websocket` handlers export, and
// `Deno.upgradeWebSocket(request)` (the runtime adapter routes calls for our requests here).
import type http from "node:http";
import type net from "node:net";
import { Buffer } from "node:buffer";
import type { NativeInfo } from "../runtime/index.ts";
import { runtime } from "../runtime/index.ts";
import { handshake, WsEndpoint } from "./websocket.ts";

type Answer = Response | undefined | Promise<Response | undefined>;
type BunHandlers = {
  open?(ws: unknown): void;
  message?(ws: unknown, m: string | Buffer): void;
  close?(ws: unknown, code: number, reason: string): void;
};

/** What Deno.upgradeWebSocket returned for one of our requests: the app returns `response`. */
interface DenoPending {
  socket: CompatSocket;
  response: Response;
}
const denoPending = new WeakMap<Request, DenoPending>();

/** The socket Deno.upgradeWebSocket hands the app on the compat path: a browser-style WebSocket. */
class CompatSocket extends EventTarget {
  readyState = 0;
  binaryType: "arraybuffer" | "blob" = "arraybuffer";
  extensions = "";
  onopen: ((e: Event) => void) | null = null;
  onmessage: ((e: MessageEvent) => void) | null = null;
  onclose: ((e: CloseEvent) => void) | null = null;
  onerror: ((e: Event) => void) | null = null;
  endpoint?: WsEndpoint;
  constructor(readonly url: string, readonly protocol: string) {
    super();
  }
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.readyState !== 1) throw new DOMException("WebSocket is not open", "InvalidStateError");
    this.endpoint!.send(data);
  }
  close(code?: number, reason?: string): void {
    if (this.readyState === 1) this.readyState = 2;
    this.endpoint?.close(code, reason);
  }
  emit(e: Event): void {
    const on = (this as unknown as Record<string, ((e: Event) => void) | null>)[`on${e.type}`];
    on?.call(this, e);
    this.dispatchEvent(e);
  }
}

runtime.interceptWebSocketUpgrade?.((request) => {
  const p = denoPending.get(request);
  if (p) return p;
  const protocol = request.headers.get("sec-websocket-protocol")?.split(",")[0].trim() ?? "";
  const pending = { socket: new CompatSocket(request.url, protocol), response: new Response(null, { status: 200 }) };
  denoPending.set(request, pending);
  return pending;
}, (request) => compatRequests.has(request));

/** Requests built here from a node:http upgrade: the only ones the Deno interception takes. */
const compatRequests = new WeakSet<Request>();

export class CompatWebSockets {
  readonly sessions = new Set<WsEndpoint>();
  constructor(readonly handlers: BunHandlers | undefined, readonly call: (request: Request, info: NativeInfo) => Answer) {}

  /** node:http's 'upgrade': the app decides; the handshake completes (101), or its answer is written raw. Resolves with the status sent. */
  async handle(req: http.IncomingMessage, socket: net.Socket, head: Uint8Array, info: NativeInfo): Promise<number> {
    const headers = new Headers();
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    const request = new Request(`http://${req.headers.host ?? "localhost"}${req.url}`, { method: req.method, headers });
    compatRequests.add(request);
    let bun: { data?: unknown; headers?: HeadersInit } | undefined;
    const upgrade = (r: Request, o?: { data?: unknown; headers?: HeadersInit }) => r === request && !!(bun = o ?? {});
    let res: Response | undefined;
    const withUpgrade = Object.create(info, { upgrade: { value: upgrade }, upgraded: { get: () => bun !== undefined } }) as NativeInfo;
    try {
      res = await this.call(request, withUpgrade);
    } catch {
      res = undefined;
    }
    const key = req.headers["sec-websocket-key"];
    const deno = denoPending.get(request);
    if (key && bun && this.handlers) return this.#openBun(socket, head, key, bun, info), 101;
    if (key && deno && res === deno.response) return this.#openDeno(socket, head, key, deno.socket), 101;
    const answer = res ?? new Response("Internal Server Error\n", { status: 500 });
    writeRaw(socket, answer);
    return answer.status;
  }

  /** Sends every open session a close frame (1001 going away); returns how many there were. */
  closeAll(): number {
    const n = this.sessions.size;
    for (const s of this.sessions) s.close(1001, "Server shutting down");
    return n;
  }

  #openBun(socket: net.Socket, head: Uint8Array, key: string, o: { data?: unknown; headers?: HeadersInit }, info: NativeInfo): void {
    const h = this.handlers!, extra = new Headers(o.headers);
    const protocol = extra.get("sec-websocket-protocol") ?? undefined;
    extra.delete("sec-websocket-protocol");
    socket.write(handshake(key, protocol, extra));
    const ws = {
      data: o.data,
      remoteAddress: info.remoteAddr.hostname,
      get readyState() { return ep.readyState; },
      send: (m: string | ArrayBuffer | ArrayBufferView) => (ep.send(m), 1),
      sendText: (m: string) => (ep.send(m), 1),
      sendBinary: (m: ArrayBufferView) => (ep.send(m), 1),
      close: (code?: number, reason?: string) => ep.close(code, reason),
      terminate: () => socket.destroy(),
      ping: () => 0,
      pong: () => 0,
    };
    const ep = new WsEndpoint(socket, {
      message: (d) => h.message?.(ws, typeof d === "string" ? d : Buffer.from(d)),
      close: (code, reason) => {
        this.sessions.delete(ep);
        h.close?.(ws, code, reason);
      },
    }, head);
    this.sessions.add(ep);
    h.open?.(ws);
  }

  #openDeno(socket: net.Socket, head: Uint8Array, key: string, s: CompatSocket): void {
    socket.write(handshake(key, s.protocol || undefined));
    const ep = new WsEndpoint(socket, {
      message: (d) => s.emit(new MessageEvent("message", { data: typeof d === "string" ? d : d.slice().buffer })),
      close: (code, reason) => {
        this.sessions.delete(ep);
        s.readyState = 3;
        s.emit(new CloseEvent("close", { code, reason, wasClean: code !== 1006 }));
      },
    }, head);
    s.endpoint = ep;
    this.sessions.add(ep);
    s.readyState = 1;
    s.emit(new Event("open"));
  }
}

/** Writes a Response on a raw socket (an upgrade request the app answered normally), then ends it. */
function writeRaw(socket: net.Socket, res: Response): void {
  void res.arrayBuffer().then((body) => {
    let head = `HTTP/1.1 ${res.status} ${res.statusText || "-"}\r\nConnection: close\r\nContent-Length: ${body.byteLength}\r\n`;
    res.headers.forEach((v, k) => {
      if (k !== "content-length" && k !== "connection") head += `${k}: ${v}\r\n`;
    });
    socket.end(Buffer.concat([Buffer.from(`${head}\r\n`), Buffer.from(body)]));
  }, () => socket.destroy());
}
