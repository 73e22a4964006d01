import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { RangeSet } from "../../src/util/range-set.js";

const runs = Number(process.env.FUZZ_RUNS ?? 500);

test("RangeSet merges adjacent and overlapping ranges", () => {
  const s = new RangeSet();
  assert.equal(s.add(0, 5), 5);
  assert.equal(s.add(10, 15), 5);
  assert.equal(s.add(5, 10), 5);
  assert.deepEqual(s.toArray(), [[0, 15]]);
  assert.equal(s.add(3, 20), 5);
  assert.deepEqual(s.toArray(), [[0, 20]]);
  s.remove(5, 7);
  assert.deepEqual(s.toArray(), [[0, 5], [7, 20]]);
  assert.ok(s.has(4) && !s.has(5) && !s.has(6) && s.has(7));
  assert.ok(s.covers(8, 20) && !s.covers(4, 8));
  s.removeBelow(8);
  assert.deepEqual(s.toArray(), [[8, 20]]);
});

test("RangeSet agrees with a plain set under random adds and removes", () => {
  const op = fc.tuple(fc.boolean(), fc.nat(200), fc.nat(30));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const s = new RangeSet();
      const model = new Set<number>();
      for (const [isAdd, start, len] of ops) {
        if (isAdd) {
          let fresh = 0;
          for (let v = start; v < start + len; v++) if (!model.has(v)) (model.add(v), fresh++);
          assert.equal(s.add(start, start + len), fresh);
        } else {
          s.remove(start, start + len);
          for (let v = start; v < start + len; v++) model.delete(v);
        }
      }
      for (let v = 0; v < 240; v++) assert.equal(s.has(v), model.has(v), `value ${v}`);
      const arr = s.toArray();
      for (let i = 1; i < arr.length; i++) assert.ok(arr[i]![0] > arr[i - 1]![1], "ranges stay disjoint and non-adjacent");
    }),
    { numRuns: runs },
  );
});
