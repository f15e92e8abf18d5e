// TLS on every serving path: https with the runtime's native server and with node:tls, client
// certificates, h2 by ALPN where the runtime offers it, one-line errors for a bad certificate or
// key, and a renewed certificate swapped in by HUP under load. Certificates are made at test time.
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import process from "node:process";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { cleanup, fixture, freePort, gone, Guvnor, request, type RuntimeName, sleep, stopCleanly } from "./helpers.ts";
import { alpn, type Certs, fingerprintOf, getFrom, httpsGet, makeCerts, twoOnOneConnection } from "./tls-helpers.ts";

const APP = fixture("app.ts");
const NODE_APP = fixture("tls-node-app.ts");
const PROXY_APP = fixture("proxy-app.ts");
/** What nginx sends for a client at 203.0.113.9 that came over https. */
/** Connects, sends `raw`, and resets the connection at once (RST, not FIN). */
function sendAndReset(port: number, raw: string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => {
      s.write(raw);
      s.resetAndDestroy();
      resolve();
    });
    s.on("error", () => resolve());
  });
}

const FROM_PROXY = { "x-forwarded-for": "198.51.100.1, 203.0.113.9", "x-forwarded-proto": "https" };

export function tlsSuite(rt: RuntimeName): void {
  let certs: Certs;
  before(() => (certs = makeCerts()));
  after(() => fs.rmSync(certs.dir, { recursive: true, force: true }));
  afterEach(cleanup);

  /** Starts guvnor with TLS and waits until a worker answers over https. */
  const startTls = async (args: string[], workers = 1, cert = certs.a) => {
    const port = await freePort();
    const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "-w", String(workers), "--runtime", rt, "--certfile", cert.cert, "--keyfile", cert.key, ...args]);
    const end = Date.now() + 20_000;
    while (g.workerPids().length < workers || !(await httpsGet(port, "/", { cacert: cert.cert, client: certs.client }).then(() => true, () => false))) {
      if (Date.now() > end) throw new Error(`no https answer; stderr:\n${g.stderr}`);
      await g.waitFor(/Booting worker/, 20_000);
      await sleep(50);
    }
    return { g, port };
  };

  describe(`guvnor on ${rt}: TLS`, () => {
    for (const serving of ["native", "compat"] as const) {
      it(`serves https on the ${serving} path: request.url, the log and the access log say https`, async () => {
        const { g, port } = await startTls(["--serving", serving, "--access-logfile", "-", "--access-logformat", "%(h)s %({wsgi.url_scheme}e)s %(r)s %(s)s", APP]);
        await g.waitFor(new RegExp(`Using worker: fetch \\(${serving}\\)`));
        assert.match(g.stderr, /Listening at: https:\/\/127\.0\.0\.1:/);
        const r = await httpsGet(port, "/headers", { cacert: certs.a.cert });
        assert.equal(r.status, 200);
        assert.match(r.body, new RegExp(`^url=https://127\\.0\\.0\\.1:${port}/headers `));
        assert.equal(r.fingerprint, fingerprintOf(certs.a.cert));
        await g.waitFor(/127\.0\.0\.1 https GET \/headers HTTP\/1\.1 200/, 5000, "stdout");
        // Keep-alive holds over TLS (without it every request pays a handshake).
        assert.deepEqual(await twoOnOneConnection(port, certs.a.cert), ["HTTP/1.1 200", "HTTP/1.1 200"]);
        // Plain HTTP on the TLS port gets no answer from the app.
        const plain = await request(`http://127.0.0.1:${port}/`).then((x) => x.status, (e) => String(e.code ?? e));
        assert.notEqual(plain, 200);
        // HTTP/2 by ALPN: Deno.serve picks h2; node:tls picks http/1.1; Bun.serve answers no ALPN (HTTP/1.1).
        assert.equal(await alpn(port, certs.a.cert), serving === "compat" ? "http/1.1" : rt === "deno" ? "h2" : "none");
        await stopCleanly(g);
      });
    }

    it("serves https on a unix socket, never plain HTTP", async () => {
      const sock = path.join(certs.dir, `${rt}.sock`);
      const g = new Guvnor(rt, ["-b", `unix:${sock}`, "--runtime", rt, "--certfile", certs.a.cert, "--keyfile", certs.a.key, APP]);
      await g.waitFor(/Using worker: fetch/);
      const end = Date.now() + 10_000;
      let r;
      while (!(r = await httpsGet(0, "/u", { cacert: certs.a.cert, socketPath: sock }).catch(() => undefined)) && Date.now() < end) await sleep(50);
      assert.equal(r?.body, "hello /u", g.stderr);
      const plain = await request({ url: "http://localhost/u", socketPath: sock }).then((x) => x.status, (e) => String(e.code ?? e));
      assert.notEqual(plain, 200, "plain HTTP on the TLS unix socket");
      await stopCleanly(g);
    });

    it("--user: the workers serve with a key only root can read, and the app does not see it", { skip: process.getuid?.() !== 0 && "needs root" }, async () => {
      fs.chmodSync(certs.a.key, 0o600);
      const st = fs.statSync(certs.a.key);
      assert.deepEqual([st.uid, st.mode & 0o077], [0, 0], "the key is root's alone");
      const { g, port } = await startTls(["--user", "nobody", "--group", "nogroup", APP]);
      for (const w of g.workerPids()) assert.equal(Number(fs.readFileSync(`/proc/${w}/status`, "utf8").match(/^Uid:\s+(\d+)/m)![1]), 65534);
      assert.equal((await httpsGet(port, "/hi", { cacert: certs.a.cert })).body, "hello /hi");
      // The arbiter handed the key over in a memfd the worker read and closed: not in the
      // environment, which the worker's user could read in /proc for the worker's whole life.
      assert.equal((await httpsGet(port, "/env?name=GUVNOR_WORKER", { cacert: certs.a.cert })).body, "(unset)");
      for (const w of g.workerPids()) assert.doesNotMatch(fs.readFileSync(`/proc/${w}/environ`, "latin1"), /PRIVATE KEY/);
      await stopCleanly(g);
    });

    it("-k node: client certificates required; the app sees the verified peer", async () => {
      const { g, port } = await startTls(["-k", "node", "--ca-certs", certs.ca, "--cert-reqs", "required", NODE_APP]);
      const seen = JSON.parse((await httpsGet(port, "/", { cacert: certs.a.cert, client: certs.client })).body);
      assert.deepEqual([seen.encrypted, seen.authorized, seen.peer], [true, true, "guvnor test client"]);
      await assert.rejects(httpsGet(port, "/", { cacert: certs.a.cert }), "no client certificate: the handshake fails");
      await stopCleanly(g);
    });

    it("fetch app with --cert-reqs required: refused without a client certificate, served with one", async () => {
      const { g, port } = await startTls(["--ca-certs", certs.ca, "--cert-reqs", "required", APP]);
      // Deno.serve takes no client certificates: the fetch worker says so and serves with node:tls.
      if (rt === "deno") await g.waitFor(/Using worker: fetch \(compat\): native serving unavailable: Deno\.serve takes no client certificates/);
      else await g.waitFor(/Using worker: fetch \(native\)/);
      assert.equal((await httpsGet(port, "/hi", { cacert: certs.a.cert, client: certs.client })).body, "hello /hi");
      await assert.rejects(httpsGet(port, "/hi", { cacert: certs.a.cert }));
      await stopCleanly(g);
    });

    it("a missing, unreadable or mismatched certificate or key is one line and exit 1, before any worker", async () => {
      const cases: [string[], RegExp][] = [
        [["--certfile", path.join(certs.dir, "nope.pem"), "--keyfile", certs.a.key], /^Error: --certfile: can't read .*nope\.pem: no such file$/],
        [["--certfile", certs.a.cert, "--keyfile", certs.b.key], /^Error: --certfile and --keyfile do not match: .*b\.key is not the key of the certificate in .*a\.pem/],
        [["--certfile", certs.a.key, "--keyfile", certs.a.key], /^Error: --certfile: .*a\.key holds no PEM certificate/],
        [["--certfile", certs.a.cert], /^Error: --certfile: .*a\.pem holds no private key: give it with --keyfile$/],
        [["--certfile", certs.a.cert, "--keyfile", certs.dir], /^Error: --keyfile: .* is not a file$/],
        [["--certfile", certs.a.cert, "--keyfile", certs.a.key, "--cert-reqs", "required"], /^Error: --cert-reqs required needs --ca-certs/],
        [["--ciphers", "ECDHE+AESGCM"], /^Error: --ciphers needs --certfile \(TLS\)$/],
        [["--tls-min-version", "1.3"], /^Error: --tls-min-version 1\.3 needs --certfile \(TLS\)$/],
      ];
      for (const [args, want] of cases) {
        const g = new Guvnor(rt, ["-b", `127.0.0.1:${await freePort()}`, ...args, APP]);
        assert.equal((await g.exit()).code, 1, g.stderr);
        assert.equal(g.stderr.trim().split("\n").length, 1, g.stderr);
        assert.match(g.stderr.trim(), want);
        assert.doesNotMatch(g.stderr, /Booting worker/);
      }
    });

    it("HUP serves a renewed certificate; no request fails across it under load", async () => {
      const live = { cert: path.join(certs.dir, "live.pem"), key: path.join(certs.dir, "live.key") };
      fs.copyFileSync(certs.a.cert, live.cert);
      fs.copyFileSync(certs.a.key, live.key);
      const { g, port } = await startTls([APP], 2, live);
      const before = (await httpsGet(port, "/pid", { cacert: certs.a.cert })).fingerprint;
      assert.equal(before, fingerprintOf(certs.a.cert));
      // A small concurrent loop of fresh connections that trusts both certificates.
      const both = path.join(certs.dir, "both.pem");
      fs.writeFileSync(both, fs.readFileSync(certs.a.cert, "utf8") + fs.readFileSync(certs.b.cert, "utf8"));
      let running = true;
      const st = { ok: 0, failed: [] as string[], prints: new Set<string>() };
      const loops = Array.from({ length: 4 }, async () => {
        while (running) {
          try {
            const r = await httpsGet(port, "/pid", { cacert: both });
            if (r.status === 200) st.ok++;
            else st.failed.push(`status ${r.status}`);
            st.prints.add(r.fingerprint);
          } catch (err) {
            st.failed.push(String((err as { code?: string }).code ?? err));
          }
        }
      });
      await sleep(300);
      // Renewal as certbot does it: new files renamed into place, then HUP.
      fs.copyFileSync(certs.b.key, `${live.key}.new`);
      fs.renameSync(`${live.key}.new`, live.key);
      fs.copyFileSync(certs.b.cert, `${live.cert}.new`);
      fs.renameSync(`${live.cert}.new`, live.cert);
      const oldWorkers = g.workerPids();
      g.signal("SIGHUP");
      const end = Date.now() + 15_000;
      while (!st.prints.has(fingerprintOf(certs.b.cert)) && Date.now() < end) await sleep(50);
      await sleep(300);
      running = false;
      await Promise.all(loops);
      assert.ok(st.prints.has(fingerprintOf(certs.b.cert)), `the new certificate was never served; stderr:\n${g.stderr}`);
      await gone(oldWorkers, 10_000); // until then a connection may still reach an old worker
      assert.equal((await httpsGet(port, "/pid", { cacert: certs.b.cert })).fingerprint, fingerprintOf(certs.b.cert));
      assert.deepEqual(st.failed, [], `${st.failed.length} of ${st.ok + st.failed.length} requests failed`);
      assert.ok(st.ok > 20, `only ${st.ok} requests`);
      await stopCleanly(g);
    });
  });

  describe(`guvnor on ${rt}: trusted proxies`, () => {
    /** Plain-HTTP guvnor on a free port; 127.0.0.1 and 127.0.0.2 are two loopback peers. */
    const start = async (args: string[]) => {
      const port = await freePort();
      const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "--runtime", rt, ...args]);
      await g.ready(1, `http://127.0.0.1:${port}/`);
      return { g, port };
    };
    const json = async (from: string, port: number, headers: Record<string, string>) => {
      const r = await getFrom(from, port, "/p?q=1", headers);
      assert.equal(r.status, 200, r.body);
      return JSON.parse(r.body);
    };

    for (const serving of ["native", "compat"] as const) {
      // Native: one address. Compat: a network that holds 127.0.0.2 only.
      const [trusted, untrusted, allow] = serving === "native" ? ["127.0.0.1", "127.0.0.2", ["--forwarded-allow-ips", "127.0.0.1"]] : ["127.0.0.2", "127.0.0.1", ["--forwarded-allow-ips", "127.0.0.2/31"]];
      it(`${serving} path: a trusted proxy sets the client and https for the app and the access log; an untrusted peer changes nothing`, async () => {
        const { g, port } = await start(["--serving", serving, ...allow, "--access-logfile", "-", "--access-logformat", "%(h)s %({wsgi.url_scheme}e)s %(r)s %(s)s", PROXY_APP]);
        const seen = await json(trusted, port, FROM_PROXY);
        const url = `https://127.0.0.1:${port}/p?q=1`;
        assert.deepEqual(seen, { url, cloned: url, remoteAddr: "203.0.113.9", requestIP: "203.0.113.9", ip: "203.0.113.9" });
        await g.waitFor(/^203\.0\.113\.9 https GET \/p\?q=1 HTTP\/1\.1 200$/m, 5000, "stdout");
        const rfc = await json(trusted, port, { forwarded: `for="[2001:db8::7]:4711";proto=https, for=${trusted}` });
        assert.deepEqual([rfc.url.slice(0, 6), rfc.remoteAddr], ["https:", "2001:db8::7"]);
        // Headers that disagree about the scheme: refused, as gunicorn does.
        const conflict = await getFrom(trusted, port, "/", { "x-forwarded-proto": "https", "x-forwarded-ssl": "off" });
        assert.equal(conflict.status, 400);
        await g.waitFor(new RegExp(`^${trusted.replaceAll(".", "\\.")} http GET / HTTP/1\\.1 400$`, "m"), 5000, "stdout");
        // The same headers from a peer that is not trusted: nothing changes.
        const plain = await json(untrusted, port, { ...FROM_PROXY, "x-forwarded-ssl": "off" });
        assert.equal(plain.url, `http://127.0.0.1:${port}/p?q=1`);
        assert.equal(plain.remoteAddr, untrusted);
        assert.equal(plain.requestIP, untrusted);
        await g.waitFor(new RegExp(`^${untrusted.replaceAll(".", "\\.")} http GET /p\\?q=1 HTTP/1\\.1 200$`, "m"), 5000, "stdout");
        await stopCleanly(g);
      });
    }

    it("by default no TCP peer is trusted: a local client over loopback cannot pick its address or https", async () => {
      for (const serving of ["native", "compat"]) {
        const { g, port } = await start(["--serving", serving, PROXY_APP]);
        const seen = await json("127.0.0.1", port, { ...FROM_PROXY, forwarded: "for=203.0.113.7;proto=https" });
        assert.deepEqual([seen.url, seen.cloned, seen.remoteAddr, seen.requestIP], [`http://127.0.0.1:${port}/p?q=1`, `http://127.0.0.1:${port}/p?q=1`, "127.0.0.1", "127.0.0.1"], serving);
        assert.notEqual(seen.ip, "203.0.113.9", serving);
        await stopCleanly(g);
      }
      const node = await start(["-k", "node", NODE_APP]);
      const other = await json("127.0.0.1", node.port, FROM_PROXY);
      assert.deepEqual([other.ip, other.protocol, other.remoteAddress], [null, null, "127.0.0.1"]);
      await stopCleanly(node.g);
    });

    it("a TCP client that resets right after its request is not taken for a unix-socket proxy (attack)", async () => {
      // With no address left to look at, the peer must not count as a unix socket's, which is
      // trusted: here guvnor listens on both, and trusts one proxy that is not on this machine.
      const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "guvnor-rst-"));
      try {
        for (const serving of ["native", "compat"]) {
          const port = await freePort();
          const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "-b", `unix:${path.join(dir, `${serving}.sock`)}`, "--runtime", rt, "--serving", serving,
            "--forwarded-allow-ips", "10.0.0.5", fixture("spoof-app.ts")]);
          await g.ready(1, `http://127.0.0.1:${port}/first`);
          for (let i = 0; i < 20; i++) await sendAndReset(port, "GET /reset HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n\r\n");
          await sleep(300);
          await request(`http://127.0.0.1:${port}/last`);
          await g.waitFor(/^seen .* \/last$/m, 5000, "stdout");
          const seen = g.stdout.split("\n").filter((l) => l.startsWith("seen "));
          assert.ok(seen.every((l) => !l.includes("6.6.6.6") && !l.startsWith("seen https")), `${serving}:\n${seen.join("\n")}`);
          await stopCleanly(g);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("a proxy on a unix socket is trusted with no --forwarded-allow-ips", async () => {
      const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "guvnor-proxy-"));
      const sock = path.join(dir, "app.sock");
      const g = new Guvnor(rt, ["-b", `unix:${sock}`, "--runtime", rt, PROXY_APP]);
      try {
        await g.ready(1, { url: "http://localhost/", socketPath: sock });
        const seen = JSON.parse((await request({ url: "http://localhost/p", socketPath: sock, headers: FROM_PROXY })).body);
        assert.deepEqual([seen.url, seen.remoteAddr, seen.ip], ["https://localhost/p", "203.0.113.9", "203.0.113.9"]);
        await stopCleanly(g);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("Hono's getConnInfo sees the client from a trusted proxy, the peer otherwise", async () => {
      const { g, port } = await start(["--forwarded-allow-ips", "127.0.0.1", fixture("hono-app.ts")]);
      assert.equal((await getFrom("127.0.0.1", port, "/ip", FROM_PROXY)).body, "203.0.113.9");
      assert.equal((await getFrom("127.0.0.2", port, "/ip", FROM_PROXY)).body, "127.0.0.2");
      await stopCleanly(g);
    });

    it("-k node: req.ip and req.protocol from a trusted proxy; Express's req.ip follows", async () => {
      const { g, port } = await start(["-k", "node", "--forwarded-allow-ips", "127.0.0.1", NODE_APP]);
      const seen = await json("127.0.0.1", port, FROM_PROXY);
      assert.deepEqual([seen.ip, seen.protocol, seen.remoteAddress], ["203.0.113.9", "https", "127.0.0.1"]);
      const other = await json("127.0.0.2", port, FROM_PROXY);
      assert.deepEqual([other.ip, other.protocol, other.remoteAddress], [null, null, "127.0.0.2"]);
      await stopCleanly(g);
      const express = await start(["-k", "node", "--forwarded-allow-ips", "127.0.0.0/8", fixture("express-app.ts")]);
      assert.equal(JSON.parse((await getFrom("127.0.0.2", express.port, "/user/x", FROM_PROXY)).body).ip, "203.0.113.9");
      await stopCleanly(express.g);
    });
  });
}