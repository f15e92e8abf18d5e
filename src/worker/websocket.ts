// A WebSocket endpoint (RFC 6455, server side) over a node:net socket, for the compat serving
// path, where neither Bun's server.upgrade() nor Deno.upgradeWebSocket() can take a node:http
// connection. Text and binary messages (fragmented or not), ping/pong and the close handshake;
// no extensions (permessage-deflate is not offered, so clients do not use it).
import { createHash } from "node:crypto";
import type net from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_MESSAGE = 64 * 1024 * 1024;

/** The 101 response that completes the handshake for `key` (the client's Sec-WebSocket-Key). */
export function handshake(key: string, protocol?: string, extra?: Headers): string {
  const accept = createHash("sha1").update(key + GUID).digest("base64");
  let head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n`;
  if (protocol) head += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  extra?.forEach((v, k) => (head += `${k}: ${v}\r\n`));
  return `${head}\r\n`;
}

export interface WsEvents {
  message(data: string | Uint8Array): void;
  close(code: number, reason: string): void;
}

/** One open WebSocket on `socket`, after the 101 went out. */
export class WsEndpoint {
  readyState = 1; // OPEN
  #buf = new Uint8Array(0);
  #parts: Uint8Array[] = [];
  #partsText = false;
  #closeSent = false;

  constructor(readonly socket: net.Socket, readonly on: WsEvents, head?: Uint8Array) {
    socket.setNoDelay(true);
    socket.on("data", (d: Uint8Array) => this.#read(d));
    socket.on("close", () => this.#ended(1006, ""));
    socket.on("error", () => {});
    if (head?.length) this.#read(head);
  }

  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.readyState !== 1) return;
    if (typeof data === "string") return this.#frame(0x1, new TextEncoder().encode(data));
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.#frame(0x2, bytes);
  }

  /** Starts the close handshake; the socket ends when the peer answers (or after 2 s). */
  close(code = 1000, reason = ""): void {
    if (this.readyState > 1) return;
    this.readyState = 2; // CLOSING
    this.#sendClose(code, reason);
    setTimeout(() => this.socket.destroy(), 2000).unref?.();
  }

  #sendClose(code: number, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    const r = new TextEncoder().encode(reason).subarray(0, 123);
    const body = new Uint8Array(2 + r.length);
    new DataView(body.buffer).setUint16(0, code);
    body.set(r, 2);
    this.#frame(0x8, body, true);
  }

  #frame(opcode: number, payload: Uint8Array, force = false): void {
    if (!force && this.readyState !== 1) return;
    const n = payload.length, len = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const head = new Uint8Array(len);
    head[0] = 0x80 | opcode;
    const v = new DataView(head.buffer);
    if (n < 126) head[1] = n;
    else if (n < 65536) (head[1] = 126), v.setUint16(2, n);
    else (head[1] = 127), v.setBigUint64(2, BigInt(n));
    if (!this.socket.destroyed) this.socket.write(Buffer.concat([head, payload]));
  }

  #read(d: Uint8Array): void {
    const all = new Uint8Array(this.#buf.length + d.length);
    all.set(this.#buf);
    all.set(d, this.#buf.length);
    let at = 0;
    for (;;) {
      if (all.length - at < 2) break;
      const fin = (all[at] & 0x80) !== 0, op = all[at] & 0x0f, masked = (all[at + 1] & 0x80) !== 0;
      let n = all[at + 1] & 0x7f, p = at + 2;
      const v = new DataView(all.buffer, all.byteOffset);
      if (n === 126) {
        if (all.length - p < 2) break;
        n = v.getUint16(p);
        p += 2;
      } else if (n === 127) {
        if (all.length - p < 8) break;
        n = Number(v.getBigUint64(p));
        p += 8;
      }
      if (!masked || n > MAX_MESSAGE) return this.#fail(1002);
      if (all.length - p < 4 + n) break;
      const mask = all.subarray(p, p + 4), payload = all.slice(p + 4, p + 4 + n);
      for (let i = 0; i < n; i++) payload[i] ^= mask[i & 3];
      at = p + 4 + n;
      this.#frameIn(fin, op, payload);
      if (this.socket.destroyed) return;
    }
    this.#buf = all.slice(at);
  }

  #frameIn(fin: boolean, op: number, payload: Uint8Array): void {
    if (op === 0x8) {
      const code = payload.length >= 2 ? new DataView(payload.buffer).getUint16(0) : 1005;
      const reason = new TextDecoder().decode(payload.subarray(2));
      this.#sendClose(code === 1005 ? 1000 : code, "");
      this.socket.end();
      return this.#ended(code, reason);
    }
    if (op === 0x9) return this.#frame(0xa, payload);
    if (op === 0xa) return;
    if (op === 0x1 || op === 0x2) {
      this.#parts = [payload];
      this.#partsText = op === 0x1;
    } else if (op === 0x0) this.#parts.push(payload);
    else return this.#fail(1002);
    if (!fin) return;
    const data = this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts);
    this.#parts = [];
    this.on.message(this.#partsText ? new TextDecoder().decode(data) : data);
  }

  #fail(code: number): void {
    this.#sendClose(code, "");
    this.socket.destroy();
    this.#ended(code, "");
  }

  #ended(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3; // CLOSED
    this.on.close(code, reason);
  }
}
