import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ControlError, type ControlTarget, dispatch, lineSplitter, parseRequest } from "../../src/control/protocol.ts";
import { bucketOf, classOf, COUNTER_SLOTS, CounterWriter, emptyCounters, quantile, readCounters } from "../../src/control/counters.ts";
import { renderMetrics, RESTART_CAUSES, type RestartCause } from "../../src/control/metrics.ts";
import { table } from "../../src/cli/ctl-format.ts";
import { RestartCounts } from "../../src/control/restarts.ts";

describe("control protocol", () => {
  it("parses a versioned request and names what is wrong with a bad one", () => {
    assert.deepEqual(parseRequest('{"v":1,"cmd":"scale","args":{"n":3}}'), { v: 1, cmd: "scale", args: { n: 3 } });
    assert.deepEqual(parseRequest('{"v":1,"cmd":"status"}').args, {});
    assert.throws(() => parseRequest("nope"), /not a JSON object/);
    assert.throws(() => parseRequest('{"v":2,"cmd":"status"}'), /protocol version 2 is not supported \(this arbiter speaks 1\)/);
    assert.throws(() => parseRequest('{"v":1,"cmd":"rm -rf"}'), /unknown command "rm -rf"/);
    assert.throws(() => parseRequest('{"v":1,"cmd":"status","args":[1]}'), /args must be a JSON object/);
  });

  it("validates arguments before the target sees them", async () => {
    const seen: unknown[] = [];
    const target = new Proxy({}, { get: (_, name) => (...a: unknown[]) => (seen.push([name, ...a]), null) }) as ControlTarget;
    await dispatch(target, parseRequest('{"v":1,"cmd":"add","args":{}}'));
    await dispatch(target, parseRequest('{"v":1,"cmd":"stop","args":{"quick":true}}'));
    assert.deepEqual(seen, [["add", 1], ["stop", true]]);
    for (const bad of ['{"n":0}', '{"n":1.5}', '{"n":"3"}', "{}"]) {
      await assert.rejects(dispatch(target, parseRequest(`{"v":1,"cmd":"scale","args":${bad}}`)), ControlError);
    }
  });

  it("splits lines across chunks and refuses an endless one", () => {
    const lines: string[] = [];
    let over = 0;
    const feed = lineSplitter((l) => lines.push(l), () => over++);
    feed('{"a"');
    feed(':1}\n\n{"b":2}\n{"c"');
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}']);
    feed("x".repeat(70_000));
    assert.equal(over, 1);
  });
});

describe("counters", () => {
  it("count what a worker writes, and clamp what the arbiter reads", () => {
    const shared = new Float64Array(COUNTER_SLOTS);
    const w = new CounterWriter(shared);
    const t = Date.now();
    w.started();
    assert.equal(readCounters(shared).inFlight, 1);
    w.finished(404, t);
    w.started();
    w.finished(200, t);
    w.started();
    w.finished(599, t - 30); // 30 ms: the 0.05 s bucket, and the sum
    const c = readCounters(shared);
    assert.deepEqual(c.byClass, [0, 1, 0, 1, 1]);
    assert.equal(c.inFlight, 0);
    assert.equal(c.buckets.reduce((a, b) => a + b, 0), 3);
    assert.equal(c.buckets[3], 1);
    assert.ok(c.sumSeconds >= 0.03 && c.sumSeconds < 1, String(c.sumSeconds));
    shared.fill(NaN);
    shared[1] = -5;
    shared[2] = Infinity;
    assert.deepEqual(readCounters(shared), emptyCounters(), "a worker cannot make the arbiter report garbage");
  });

  it("bucket durations and estimate quantiles as Prometheus would", () => {
    assert.equal(bucketOf(0.001), 0);
    assert.equal(bucketOf(0.005), 0);
    assert.equal(bucketOf(0.0051), 1);
    assert.equal(bucketOf(99), 11);
    assert.deepEqual([100, 204, 302, 404, 503, 99, 700].map(classOf), [0, 1, 2, 3, 4, 4, 4]);
    const c = emptyCounters();
    assert.equal(quantile(c, 0.5), null);
    c.buckets[2] = 100; // all between 10 and 25 ms
    assert.equal(quantile(c, 0.5), 0.0175);
    c.buckets[11] = 1;
    assert.equal(quantile(c, 1), 10);
  });
});

describe("renderMetrics", () => {
  it("writes valid Prometheus text with cumulative buckets and escaped labels", () => {
    const counters = emptyCounters();
    counters.byClass[1] = 7;
    counters.buckets[0] = 5;
    counters.buckets[3] = 2;
    const text = renderMetrics({
      counters,
      workers: [{ pid: 10, state: "serving", rssBytes: 1000, lagSeconds: 0.25 }, { pid: 11, state: "booting", rssBytes: null, lagSeconds: null }],
      restarts: Object.fromEntries(RESTART_CAUSES.map((c) => [c, c === "crash" ? 2 : 0])) as Record<RestartCause, number>,
      eventLoopLagSeconds: 0.001,
      listeners: [{ address: 'unix:/tmp/a"b', queue: null }, { address: "http://127.0.0.1:8000", queue: 3 }],
      build: { version: "0.1.0", runtime: "bun", runtimeVersion: "1.4.5", workerRuntime: "deno" },
    });
    for (const line of text.trimEnd().split("\n")) {
      assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{(\w+="([^"\\]|\\.)*",?)*\})? [\d.e+-]+)$/, line);
    }
    assert.match(text, /^guvnor_requests_total\{status="2xx"\} 7$/m);
    assert.match(text, /^guvnor_request_duration_seconds_bucket\{le="0.025"\} 5$/m);
    assert.match(text, /^guvnor_request_duration_seconds_bucket\{le="0.05"\} 7$/m);
    assert.match(text, /^guvnor_request_duration_seconds_bucket\{le="\+Inf"\} 7$/m);
    assert.match(text, /^guvnor_request_duration_seconds_count 7$/m);
    assert.match(text, /^guvnor_worker_restarts_total\{cause="crash"\} 2$/m);
    assert.match(text, /^guvnor_workers\{state="booting"\} 1$/m);
    assert.match(text, /^guvnor_event_loop_lag_seconds\{process="arbiter"\} 0.001$/m);
    assert.match(text, /^guvnor_event_loop_lag_seconds\{process="worker",pid="10"\} 0.25$/m);
    assert.match(text, /^guvnor_listen_queue_length\{listener="http:\/\/127.0.0.1:8000"\} 3$/m);
    assert.doesNotMatch(text, /a\\"b/, "a listener with no queue reading is left out");
    assert.doesNotMatch(text, /pid="11"/);
  });
});

describe("ctl tables", () => {
  it("align columns, numbers to the right", () => {
    assert.equal(table(["PID", "STATE"], [[7, "serving"], [12345, "booting"]]), "  PID  STATE\n    7  serving\n12345  booting");
  });
});

describe("restart causes", () => {
  it("name why each worker went, and do not count what was asked for", () => {
    const r = new RestartCounts(), now = { generation: 2, stopping: false };
    const w = (pid: number, o: { generation?: number; retiring?: boolean; sent?: string } = {}) => ({ pid, generation: 2, retiring: false, ...o });
    r.recycling(1, "max-requests reached");
    r.exited(w(1, { retiring: true, sent: "SIGTERM" }), { code: 0, signal: null }, now);
    r.recycling(2, "memory 300 MiB > max-worker-memory 256 MiB");
    r.exited(w(2, { retiring: true, sent: "SIGTERM" }), { code: 0, signal: null }, now);
    r.killed(3);
    r.exited(w(3, { retiring: true, sent: "SIGTERM" }), { code: 0, signal: null }, now);
    r.exited(w(4, { sent: "SIGABRT" }), { code: null, signal: "SIGABRT" }, now);
    r.exited(w(5, { generation: 1, retiring: true, sent: "SIGTERM" }), { code: 0, signal: null }, now);
    r.exited(w(6), { code: null, signal: "SIGKILL" }, now); // the OOM killer
    r.exited(w(7), { code: 1, signal: null }, now);
    r.exited(w(8, { retiring: true, sent: "SIGTERM" }), { code: 0, signal: null }, now); // TTOU
    r.exited(w(9), { code: 1, signal: null }, { generation: 2, stopping: true });
    assert.deepEqual(r.counts, { crash: 1, signal: 1, timeout: 1, max_requests: 1, max_worker_memory: 1, reload: 1, requested: 0, ctl: 1 });
  });
});
