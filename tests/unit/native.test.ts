// Pieces of the native serving path and --reuse-port that run without a worker: the checks of
// sockets/adopt.ts, the slot sockets of sockets/slots.ts, the access-log entry of the fetch path.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "../../src/log/logger.ts";
import { AdoptError, findEpoll, findListener, socketFds } from "../../src/sockets/adopt.ts";
import { decodeSockaddr } from "../../src/sockets/address.ts";
import * as libc from "../../src/sockets/libc.ts";
import { closeListeners, createListeners } from "../../src/sockets/listeners.ts";
import { ReusePortSlots } from "../../src/sockets/slots.ts";
import type { AccessEntry } from "../../src/log/access.ts";
import { logWhenSent, seeRequest } from "../../src/worker/fetch-access.ts";

const log = createLogger({ level: "error", sink: () => ({ write() {}, reopen() {}, close() {} }) });
const info = { remoteAddr: { hostname: "127.0.0.1", port: 1, transport: "tcp" as const }, requestIP: () => null };

describe("native adoption checks", () => {
  it("refuses when no new listener appeared, or when it is in no epoll set", async () => {
    assert.throws(() => findListener(socketFds(), { port: 1 }), AdoptError);
    const [l] = await createListeners(["127.0.0.1:0"], { backlog: 16, umask: 0, log });
    try {
      assert.throws(() => findEpoll(l.fd), /in 0 epoll sets, expected 1/);
    } finally {
      closeListeners([l]);
    }
  });
});

describe("--reuse-port slots", () => {
  it("adds sockets on the listener's address, and closes only unheld slots above the count", async () => {
    const listeners = await createListeners(["127.0.0.1:0"], { backlog: 16, umask: 0, log, reusePort: true });
    const slots = new ReusePortSlots(listeners, 16);
    try {
      assert.ok(slots.enabled);
      assert.deepEqual(slots.fdsFor(0), [listeners[0].fd]);
      const [one] = slots.fdsFor(1), [two] = slots.fdsFor(2);
      const name = (fd: number) => decodeSockaddr(libc.getsockname(fd)).port;
      assert.equal(name(one), name(listeners[0].fd));
      assert.equal(name(two), name(listeners[0].fd));
      slots.trim(1, new Set([2]));
      assert.equal(slots.count, 3, "slot 2 is held, so nothing above it can go");
      slots.trim(1, new Set());
      assert.equal(slots.count, 1);
      assert.throws(() => libc.getsockname(two), /EBADF/);
    } finally {
      slots.closeAll();
      closeListeners(listeners);
    }
  });

  it("is off for listeners bound without it", async () => {
    const listeners = await createListeners(["127.0.0.1:0"], { backlog: 16, umask: 0, log });
    assert.equal(new ReusePortSlots(listeners, 16).enabled, false);
    closeListeners(listeners);
  });
});

describe("access log entries on the native path", () => {
  const entryOf = async (req: Request, res: Response): Promise<AccessEntry> => {
    let got: AccessEntry | undefined;
    const out = logWhenSent(req, seeRequest(req, info), res, (e) => (got = e));
    await out.arrayBuffer();
    return got!;
  };

  it("counts a streamed body as it goes out, and takes a known length as is", async () => {
    const streamed = await entryOf(new Request("http://h/s?q=1"), new Response(new Blob(["abc", "defg"]).stream()));
    assert.equal(streamed.bytes, 7);
    assert.equal(streamed.target, "/s?q=1");
    const known = await entryOf(new Request("http://h/k"), new Response("x", { headers: { "content-length": "1" } }));
    assert.equal(known.bytes, 1);
    const head = await entryOf(new Request("http://h/", { method: "HEAD" }), new Response("ignored"));
    assert.equal(head.bytes, 0);
  });

  it("writes the line of a streamed body the client abandoned, with the bytes sent so far", async () => {
    let got: AccessEntry | undefined;
    const body = new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(10)) });
    const req = new Request("http://h/gone");
    const reader = logWhenSent(req, seeRequest(req, info), new Response(body), (e) => (got = e)).body!.getReader();
    await reader.read();
    await reader.cancel();
    assert.equal(got?.target, "/gone");
    assert.ok((got?.bytes ?? 0) >= 10);
  });
});
