import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import { WsEndpoint } from "../../src/worker/websocket.ts";

/** A masked client frame. */
function frame(fin: boolean, op: number, payload: Uint8Array): Uint8Array {
  const n = payload.length, ext = n < 126 ? 0 : 2;
  const out = new Uint8Array(2 + ext + 4 + n), mask = [1, 2, 3, 4];
  out[0] = (fin ? 0x80 : 0) | op;
  if (ext) (out[1] = 0x80 | 126), new DataView(out.buffer).setUint16(2, n);
  else out[1] = 0x80 | n;
  out.set(mask, 2 + ext);
  for (let i = 0; i < n; i++) out[2 + ext + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}

describe("the compat path's WebSocket endpoint", () => {
  it("joins fragments, answers ping with pong, and completes the close handshake", async () => {
    const got: (string | number)[] = [];
    const server = net.createServer((s) => {
      new WsEndpoint(s, { message: (d) => got.push(typeof d === "string" ? d : d.length), close: (code) => got.push(code) });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const c = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    let out = Buffer.alloc(0);
    c.on("data", (d: Buffer) => (out = Buffer.concat([out, d])));
    await new Promise((r) => c.once("connect", r));
    const enc = (s: string) => new TextEncoder().encode(s);
    c.write(Buffer.concat([frame(false, 0x1, enc("hel")), frame(true, 0x0, enc("lo"))]));
    c.write(frame(true, 0x2, new Uint8Array(300))); // a 16-bit length
    c.write(frame(true, 0x9, enc("p"))); // ping
    c.write(frame(true, 0x8, new Uint8Array([0x03, 0xe8]))); // close 1000
    await new Promise((r) => c.once("close", r));
    server.close();
    assert.deepEqual(got, ["hello", 300, 1000]);
    const ops: number[] = [];
    for (let at = 0; at + 1 < out.length; at += 2 + (out[at + 1] & 0x7f)) ops.push(out[at] & 0x0f); // short, unmasked frames
    assert.deepEqual(ops, [0xa, 0x8], "a pong, then the close frame");
  });
});
