import assert from "node:assert/strict";
import process from "node:process";
import { describe, it } from "node:test";
import { type AccessEntry, formatAccess } from "../../src/log/access.ts";
import { formatTimestamp } from "../../src/log/logger.ts";

const entry = (over: Partial<AccessEntry> = {}): AccessEntry => ({
  remoteAddr: "10.0.0.1", method: "GET", target: "/a/b?x=1&y=2", httpVersion: "1.1", status: 200, bytes: 1234,
  requestHeader: (n) => ({ "user-agent": "curl/8", referer: "http://r/", authorization: `Basic ${btoa("alice:pw")}`, "x-req": "7" } as Record<string, string>)[n],
  responseHeader: (n) => (n === "content-type" ? "text/plain" : undefined),
  start: new Date(2026, 10, 27, 9, 5, 3), durationMs: 1500.25, ...over,
});

describe("formatAccess", () => {
  it("renders gunicorn's default format", () => {
    inZones(() => {
      const e = entry();
      const line = formatAccess('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"', e);
      const m = line.match(/^10\.0\.0\.1 - alice \[27\/Nov\/2026:09:05:03 ([+-]\d\d)(\d\d)\] "GET \/a\/b\?x=1&y=2 HTTP\/1\.1" 200 1234 "http:\/\/r\/" "curl\/8"$/);
      assert.ok(m, line);
      assertZone(e.start, "2026-11-27T09:05:03", m);
    });
  });

  it("renders the other atoms", () => {
    const line = formatAccess("%(m)s|%(U)s|%(q)s|%(H)s|%(B)s|%(T)s|%(D)s|%(M)s|%(L)s|%(p)s|%({x-req}i)s|%({content-type}o)s|%({missing}i)s", entry());
    assert.equal(line, `GET|/a/b|x=1&y=2|HTTP/1.1|1234|1|1500250|1500|1.500250|<${process.pid}>|7|text/plain|-`);
  });

  it("uses - for what is unknown", () => {
    const line = formatAccess("%(u)s %(b)s %(f)s %(a)s", entry({ bytes: null, requestHeader: () => undefined }));
    assert.equal(line, "- - - -");
  });
});

describe("formatTimestamp", () => {
  it("is gunicorn's: local time, then that zone's UTC offset", () => {
    inZones(() => {
      for (const [d, local] of [[new Date(2026, 0, 2, 3, 4, 5), "2026-01-02T03:04:05"], [new Date(2026, 6, 31, 23, 59, 59), "2026-07-31T23:59:59"]] as const) {
        const m = formatTimestamp(d).match(/^(\S+) (\S+) ([+-]\d\d)(\d\d)$/);
        assert.ok(m, formatTimestamp(d));
        assert.equal(`${m[1]}T${m[2]}`, local);
        assertZone(d, local, [m[0], m[3], m[4]]);
      }
    });
  });
});

/** Runs `fn` with the local time zone set to zones west, east (with a half hour) and at UTC. */
function inZones(fn: () => void): void {
  const saved = process.env.TZ;
  try {
    for (const tz of ["UTC", "America/New_York", "Asia/Kolkata"]) {
      process.env.TZ = tz;
      fn();
    }
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}

/** The offset printed (`+hh`, `mm`) read back with the local time gives the same instant. */
function assertZone(d: Date, local: string, [, hours, minutes]: readonly string[]): void {
  assert.equal(new Date(`${local}${hours}:${minutes}`).getTime(), d.getTime(), `offset ${hours}${minutes} for ${local}`);
}
