import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isIP as nodeIsIP } from "node:net";
import { decodeSockaddr, encodeInet, encodeUnix, formatUrl, parseAddress } from "../../src/sockets/address.ts";
import { isIP } from "../../src/sockets/ip.ts";

describe("parseAddress", () => {
  it("reads gunicorn's forms", () => {
    assert.deepEqual(parseAddress("127.0.0.1:8000"), { kind: "tcp", host: "127.0.0.1", port: 8000 });
    assert.deepEqual(parseAddress("0.0.0.0:0"), { kind: "tcp", host: "0.0.0.0", port: 0 });
    assert.deepEqual(parseAddress("[::1]:9000"), { kind: "tcp", host: "::1", port: 9000 });
    assert.deepEqual(parseAddress("[::]"), { kind: "tcp", host: "::", port: 8000 });
    assert.deepEqual(parseAddress("localhost"), { kind: "tcp", host: "localhost", port: 8000 });
    assert.deepEqual(parseAddress("example.com:80"), { kind: "tcp", host: "example.com", port: 80 });
    assert.deepEqual(parseAddress("9000"), { kind: "tcp", host: "127.0.0.1", port: 9000 });
    assert.deepEqual(parseAddress(":9000"), { kind: "tcp", host: "0.0.0.0", port: 9000 });
    assert.deepEqual(parseAddress("unix:/run/app.sock"), { kind: "unix", path: "/run/app.sock" });
    assert.deepEqual(parseAddress("unix:relative.sock"), { kind: "unix", path: "relative.sock" });
    assert.deepEqual(parseAddress("fd://3"), { kind: "fd", fd: 3 });
  });

  it("names the bad address and why", () => {
    assert.throws(() => parseAddress("127.0.0.1:70000"), /Invalid bind address "127\.0\.0\.1:70000": port must be a number between 0 and 65535 \(got "70000"\)/);
    assert.throws(() => parseAddress("127.0.0.1:http"), /port must be a number/);
    assert.throws(() => parseAddress("::1:8000"), /IPv6 address must be written in brackets/);
    assert.throws(() => parseAddress("[nope]:1"), /"nope" is not an IPv6 address/);
    assert.throws(() => parseAddress("bad host!:1"), /is not a host name or IP address/);
    assert.throws(() => parseAddress("fd://1"), /fd:\/\/N with N a file descriptor number of 3 or more/);
    assert.throws(() => parseAddress("unix:"), /path is empty/);
    assert.throws(() => parseAddress("unix:/" + "x".repeat(200)), /longer than 107 bytes/);
    assert.throws(() => parseAddress(""), /empty/);
  });
});

describe("sockaddr", () => {
  it("round-trips IPv4, IPv6 and unix addresses", () => {
    assert.deepEqual(decodeSockaddr(encodeInet("10.1.2.3", 8080)), { family: 2, host: "10.1.2.3", port: 8080 });
    for (const ip of ["::1", "::", "fe80::1", "2001:db8::5:0:0:1", "2001:db8:1:2:3:4:5:6"]) {
      assert.equal(decodeSockaddr(encodeInet(ip, 443)).host, ip);
    }
    assert.equal(decodeSockaddr(encodeInet("::ffff:1.2.3.4", 1)).host, "::ffff:102:304");
    assert.equal(decodeSockaddr(encodeUnix("/tmp/a.sock")).path, "/tmp/a.sock");
  });

  it("formats URLs as gunicorn prints them", () => {
    assert.equal(formatUrl("127.0.0.1", 8000), "http://127.0.0.1:8000");
    assert.equal(formatUrl("::1", 8000), "http://[::1]:8000");
  });
});

describe("isIP", () => {
  it("says what node:net's isIP says, without loading node:net", () => {
    const cases = [
      "127.0.0.1", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", " 1.2.3.4", "1.2.3.4 ",
      "::", "::1", "1::", "fe80::1%eth0", "fe80::1%", "fe80::1%en0.5", "::ffff:1.2.3.4", "::ffff:01.2.3.4", "1:2:3:4:5:6:7:8",
      "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:1.2.3.4", "1::2::3", "[::1]", "localhost", "", "g::1", "1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7",
      "2001:db8::/32", "12345::", "2001:DB8::A", ":1", "1:",
    ];
    for (const c of cases) assert.equal(isIP(c), nodeIsIP(c), JSON.stringify(c));
  });
});
