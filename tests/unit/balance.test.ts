// The balancing policy and the shared table it reads (src/worker/balance.ts), without processes:
// the decisions, the clamping of what other workers wrote, and the kernel-queue override.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Balancer, BalanceTable, decide, type Gate, TABLE_BYTES } from "../../src/worker/balance.ts";

/** A gate that records what the balancer did to it. */
function fakeGate(queued = 0): Gate & { paused: boolean; calls: string[]; queue: number } {
  const g = {
    paused: false, calls: [] as string[], queue: queued,
    pause: () => ((g.paused = true), g.calls.push("pause")),
    resume: () => ((g.paused = false), g.calls.push("resume")),
    queued: () => g.queue,
  };
  return g;
}

/** Writes a slot as another worker would (i32 pid, i32 connections, f64 stamp). */
function writeSlot(memory: ArrayBuffer, slot: number, pid: number, connections: number, stamp: number): void {
  new Int32Array(memory)[slot * 4] = pid;
  new Int32Array(memory)[slot * 4 + 1] = connections;
  new Float64Array(memory)[slot * 2 + 1] = stamp;
}

describe("balance policy", () => {
  it("leaves an even split alone and gates the worker over its share", () => {
    assert.deepEqual(decide(32, [32]), { pause: false, handBack: 0 });
    assert.deepEqual(decide(33, [31]), { pause: false, handBack: 0 }, "within the slack");
    assert.deepEqual(decide(64, [0]), { pause: true, handBack: 32 });
    assert.deepEqual(decide(64, [0, 0, 0]), { pause: true, handBack: 48 });
    assert.deepEqual(decide(3, [0]), { pause: true, handBack: 1 });
  });

  it("never gates a worker with no connections, nor all honest workers at once", () => {
    assert.equal(decide(0, [0, 0]).pause, false);
    assert.equal(decide(0, [1000]).pause, false);
    for (const counts of [[10, 0], [5, 5, 20], [1, 2, 3, 90]]) {
      const paused = counts.map((own, i) => decide(own, counts.filter((_, j) => j !== i)).pause);
      assert.ok(paused.includes(false), `${counts}: someone accepts`);
    }
  });
});

describe("balance table", () => {
  it("reads live slots of other workers, clamped; ignores stale, future and own", () => {
    const memory = new ArrayBuffer(TABLE_BYTES), now = 1_000_000;
    writeSlot(memory, 1, 101, 7, now - 100);
    writeSlot(memory, 2, 102, -5, now); // garbage: negative
    writeSlot(memory, 3, 103, 2 ** 31 - 1, now); // garbage: huge
    writeSlot(memory, 4, 104, 9, now - 10_000); // stale: gone or stuck
    writeSlot(memory, 5, 105, 9, now + 60_000); // from the future
    writeSlot(memory, 6, 106, 9, NaN);
    const t = new BalanceTable(memory, 200);
    t.publish(4, now);
    assert.deepEqual(t.others(now).sort((a, b) => a - b), [0, 7, 1 << 20]);
    assert.deepEqual(new BalanceTable(memory, 101).others(now).sort((a, b) => a - b), [0, 4, 1 << 20]);
  });

  it("takes its slot back when another worker wrote over it", () => {
    const memory = new ArrayBuffer(TABLE_BYTES), now = 5000;
    const t = new BalanceTable(memory, 7);
    t.publish(3, now);
    const i32 = new Int32Array(memory), mine = i32.findIndex((v, i) => i % 4 === 0 && v === 7) / 4;
    writeSlot(memory, mine, 9, 0, now); // someone else's now
    t.publish(3, now + 100);
    assert.deepEqual(new BalanceTable(memory, 1).others(now + 100).sort(), [0, 3]);
  });
});

describe("balancer", () => {
  const memory = () => new ArrayBuffer(TABLE_BYTES);

  it("counts connections, pauses over its share, hands back the surplus, then resumes", () => {
    const m = memory(), gate = fakeGate();
    let now = 10_000;
    writeSlot(m, 0, 1, 0, now); // a live worker with no connections
    const b = new Balancer(new BalanceTable(m, 2), gate, () => now);
    for (let i = 0; i < 30; i++) b.seen(`127.0.0.1:${1000 + (i % 10)}`);
    b.tick();
    assert.equal(b.connections, 10);
    assert.equal(gate.paused, true);
    const closed = Array.from({ length: 10 }, (_, i) => b.seen(`127.0.0.1:${1000 + i}`)).filter(Boolean).length;
    assert.equal(closed, 5, "half the pool handed back");
    writeSlot(m, 0, 1, 5, (now += 100)); // they landed on the other worker
    b.tick();
    assert.equal(gate.paused, false);
    assert.deepEqual(gate.calls, ["pause", "resume"]);
  });

  it("does not count a connection seen fewer than three times: it may be gone, or a reused client port", () => {
    const m = memory(), gate = fakeGate();
    writeSlot(m, 0, 1, 0, 10_000);
    const b = new Balancer(new BalanceTable(m, 2), gate, () => 10_000);
    for (let i = 0; i < 1000; i++) b.seen(`127.0.0.1:${1000 + (i % 500)}`);
    b.tick();
    assert.equal(b.connections, 0);
    assert.equal(gate.paused, false);
  });

  it("resumes when connections wait in the queue while it is paused: a lying table cannot stop it", () => {
    const m = memory(), gate = fakeGate(3);
    let now = 10_000;
    const b = new Balancer(new BalanceTable(m, 2), gate, () => now);
    for (let i = 0; i < 10; i++) b.seen(`127.0.0.1:${1000 + i}`);
    for (let t = 0; t < 5; t++) {
      writeSlot(m, 0, 1, 0, (now += 100)); // claims to be idle, but accepts nothing
      for (let i = 0; i < 10; i++) b.seen(`127.0.0.1:${1000 + i}`);
      b.tick();
    }
    assert.ok(gate.calls.includes("resume"), `${gate.calls}`);
  });

  it("once stopped, closes every connection after its response and leaves the table", () => {
    const m = memory(), b = new Balancer(new BalanceTable(m, 2), fakeGate(), () => 10_000);
    b.seen("127.0.0.1:1");
    b.tick();
    assert.equal(new BalanceTable(m, 3).others(10_000).length, 1);
    b.stop();
    assert.equal(b.seen("127.0.0.1:1"), true);
    assert.equal(b.seen(""), true);
    assert.equal(new BalanceTable(m, 3).others(10_000).length, 0);
  });
});

describe("balancer sampling", () => {
  it("looks at every request while traffic is light, and at one in N once it is heavy", () => {
    const b = new Balancer(new BalanceTable(new ArrayBuffer(TABLE_BYTES), 2), fakeGate(), () => 10_000);
    const picked = (n: number) => Array.from({ length: n }, () => b.due()).filter(Boolean).length;
    assert.equal(picked(80), 80);
    b.tick();
    assert.equal(picked(80), 80);
    picked(10_000 - 80);
    b.tick(); // 10,000 requests in the last tick, 100 looked at per tick: one in 100
    assert.ok(Math.abs(picked(1000) - 10) <= 1);
  });
});
