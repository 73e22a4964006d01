import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DeadlineHeap } from "../../src/quic/scheduler.js";
import type { Connection } from "../../src/quic/connection.js";
import { makePair } from "./harness.js";

test("DeadlineHeap yields each item at its latest deadline, in deadline order, whatever the updates", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined })), { maxLength: 300 }), (ops) => {
      const heap = new DeadlineHeap<number>();
      const model = new Map<number, number>();
      for (const [item, at] of ops) {
        heap.set(item, at);
        if (at === undefined) model.delete(item);
        else model.set(item, at);
      }
      assert.equal(heap.size, model.size);
      assert.equal(heap.peek(), model.size ? Math.min(...model.values()) : undefined);
      const popped: Array<[number, number]> = [];
      for (let item = heap.popDue(50); item !== undefined; item = heap.popDue(50)) popped.push([item, model.get(item)!]);
      assert.deepEqual(popped.map(([i]) => i).sort(), [...model.keys()].sort());
      for (let i = 1; i < popped.length; i++) assert.ok(popped[i - 1]![1] <= popped[i]![1]);
      assert.equal(heap.peek(), undefined);
    }),
  );
});

test("DeadlineHeap.popDue leaves items that are not due yet", () => {
  const heap = new DeadlineHeap<string>();
  heap.set("a", 10);
  heap.set("b", 5);
  heap.set("b", 20); // moved later: the entry at 5 is stale
  assert.equal(heap.popDue(9), undefined);
  assert.equal(heap.popDue(10), "a");
  assert.equal(heap.popDue(19), undefined);
  assert.equal(heap.peek(), 20);
});

test("an endpoint asks only woken connections for datagrams: idle ones cost nothing per send()", () => {
  const p = makePair();
  const conns: Connection[] = [p.conn];
  for (let i = 1; i < 10; i++) conns.push(p.client.connect({ serverName: "localhost", remote: p.link.address(1), now: p.link.now }));
  p.link.run(() => conns.every((c) => c.isEstablished), 5_000);
  // Let the handshake's last packets and ACKs settle.
  p.link.run(() => false, 200);
  const calls = new Map<Connection, number>();
  for (const c of conns) {
    const inner = c.send.bind(c);
    c.send = (now: number) => {
      calls.set(c, (calls.get(c) ?? 0) + 1);
      return inner(now);
    };
  }
  assert.equal(p.client.send(p.link.now), null);
  assert.equal(calls.size, 0, "no connection was asked while none was woken");
  const target = conns[3]!;
  target.ping();
  const d = p.client.send(p.link.now);
  assert.ok(d, "the pinged connection sends");
  assert.equal(p.client.send(p.link.now), null);
  assert.deepEqual([...calls.keys()], [target]);
});
