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
    const line = formatAccess('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"', entry());
    assert.match(line, /^10\.0\.0\.1 - alice \[27\/Nov\/2026:09:05:03 [+-]\d{4}\] "GET \/a\/b\?x=1&y=2 HTTP\/1\.1" 200 1234 "http:\/\/r\/" "curl\/8"$/);
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
  it("looks like gunicorn's", () => {
    assert.match(formatTimestamp(new Date()), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$/);
  });
});
