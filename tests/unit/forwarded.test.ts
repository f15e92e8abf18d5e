import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { peerMatcher } from "../../src/config/networks.ts";
import { certReqs, headerValues, ipOrNetwork } from "../../src/config/coerce-tls.ts";
import { CONFLICT, parseForwarded, ProxyTrust } from "../../src/worker/forwarded.ts";

const SCHEME = { "x-forwarded-protocol": "ssl", "x-forwarded-proto": "https", "x-forwarded-ssl": "on" };
const trust = (ips: string[]) => new ProxyTrust({ forwardedAllowIps: ips, secureSchemeHeaders: SCHEME });
/** peer "unix": a connection on a unix socket. */
const from = (t: ProxyTrust, peer: string, headers: Record<string, string>) => t.resolve(peer === "unix" ? "" : peer, peer === "unix", (n) => headers[n]);

describe("peerMatcher", () => {
  it("matches addresses, networks, IPv4-mapped peers and *", () => {
    const m = peerMatcher(["127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8", "192.168.1.0/25"]);
    for (const a of ["127.0.0.1", "::ffff:127.0.0.1", "::1", "0:0:0:0:0:0:0:1", "10.2.3.4", "fd12::1", "192.168.1.127", "::ffff:10.1.1.1"]) assert.ok(m(a), a);
    for (const a of ["127.0.0.2", "11.0.0.1", "fe80::1", "192.168.1.128", "junk", ""]) assert.ok(!m(a), a);
    assert.ok(peerMatcher(["*"])("203.0.113.9"));
    assert.ok(!peerMatcher([])("127.0.0.1"));
  });
});

describe("proxy settings parsers", () => {
  it("take what gunicorn takes and name the bad value", () => {
    assert.equal(certReqs()("2", "--cert-reqs"), "required");
    assert.equal(certReqs()("optional", "--cert-reqs"), "optional");
    assert.throws(() => certReqs()("maybe", "--cert-reqs"), /--cert-reqs must be one of none, optional, required \(got "maybe"\)/);
    assert.doesNotThrow(() => ipOrNetwork("10.0.0.0/8", "--forwarded-allow-ips"));
    assert.throws(() => ipOrNetwork("10.0.0.0/33", "--forwarded-allow-ips"), /networks such as 10\.0\.0\.0\/8/);
    assert.throws(() => ipOrNetwork("proxy.local", "FORWARDED_ALLOW_IPS"), /^ConfigError: FORWARDED_ALLOW_IPS must be/);
    assert.deepEqual(headerValues()(["X-Forwarded-Proto=https"], "--secure-scheme-headers"), { "x-forwarded-proto": "https" });
    assert.deepEqual(headerValues()({ "X-SCHEME": "https" }, "secureSchemeHeaders in x"), { "x-scheme": "https" });
    assert.throws(() => headerValues()(["nope"], "--secure-scheme-headers"), /HEADER=VALUE/);
  });
});

describe("ProxyTrust.resolve", () => {
  const t = trust(["127.0.0.1", "10.0.0.0/8"]);

  it("takes the nearest hop that is not a trusted proxy, and the scheme", () => {
    assert.deepEqual(from(t, "127.0.0.1", { "x-forwarded-for": "1.1.1.1, 203.0.113.9, 10.0.0.5", "x-forwarded-proto": "https" }), { address: "203.0.113.9", port: 0, scheme: "https" });
    assert.deepEqual(from(t, "127.0.0.1", { "x-forwarded-for": "10.0.0.7, 10.0.0.5" }), { address: "10.0.0.7", port: 0 }, "all trusted: the farthest");
    assert.deepEqual(from(t, "127.0.0.1", { "x-forwarded-ssl": "off" }), { port: 0, scheme: "http" });
    assert.deepEqual(from(t, "unix", { "x-forwarded-for": "203.0.113.9" }), { address: "203.0.113.9", port: 0 }, "unix socket peers are trusted");
    assert.equal(from(t, "", { "x-forwarded-for": "203.0.113.9" }), null, "a TCP peer with no address (it reset) is not");
  });

  it("is off with an empty --forwarded-allow-ips", () => {
    assert.equal(ProxyTrust.from({ forwardedAllowIps: [""], secureSchemeHeaders: SCHEME }), null);
    assert.equal(ProxyTrust.from({ forwardedAllowIps: [], secureSchemeHeaders: SCHEME }), null);
  });

  it("ignores everything from an untrusted peer", () => {
    assert.equal(from(t, "203.0.113.1", { "x-forwarded-for": "1.2.3.4", "x-forwarded-proto": "https", "x-forwarded-ssl": "off" }), null);
    assert.equal(from(t, "127.0.0.1", {}), null);
  });

  it("reads RFC 7239 Forwarded, ports and quoted IPv6 included", () => {
    assert.deepEqual(from(t, "127.0.0.1", { forwarded: 'for="[2001:db8::7]:4711";proto=https;by=10.0.0.1, for=10.0.0.2' }), { address: "2001:db8::7", port: 4711, scheme: "https" });
    assert.deepEqual(from(t, "127.0.0.1", { forwarded: "for=_hidden;proto=https" }), { port: 0, scheme: "https" }, "an obfuscated client: the scheme only");
    assert.deepEqual(parseForwarded('for=1.2.3.4;proto=http, for="[::1]:80"'), [{ for: "1.2.3.4", proto: "http" }, { for: "[::1]:80" }]);
    assert.equal(parseForwarded("garbage"), null);
  });

  it("refuses headers that disagree", () => {
    assert.equal(from(t, "127.0.0.1", { "x-forwarded-proto": "https", "x-forwarded-ssl": "off" }), CONFLICT);
    assert.equal(from(t, "127.0.0.1", { forwarded: "for=1.2.3.4", "x-forwarded-for": "5.6.7.8" }), CONFLICT);
    assert.equal(from(t, "127.0.0.1", { forwarded: "for=1.2.3.4;proto=http", "x-forwarded-proto": "https" }), CONFLICT);
    assert.equal(from(t, "127.0.0.1", { forwarded: "nonsense" }), CONFLICT);
    assert.deepEqual(from(t, "127.0.0.1", { forwarded: "for=1.2.3.4", "x-forwarded-for": "1.2.3.4" }), { address: "1.2.3.4", port: 0 });
  });
});
