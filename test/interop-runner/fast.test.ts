// A fast subset of the interop-runner cases (the full set: npm run test:interop).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runCase, type Peer } from "./cases.js";

const FAST: Array<[string, Peer]> = [
  ["handshake", "tsquic"],
  ["handshake", "ngtcp2-server"],
  ["handshake", "ngtcp2-client"],
  ["retry", "tsquic"],
  ["chacha20", "ngtcp2-server"],
  ["transferloss", "tsquic"],
  ["amplificationlimit", "tsquic"],
  ["keyupdate", "tsquic"],
  ["keyupdate", "ngtcp2-client"],
  ["transfer", "tsquic"],
  ["rebind-port", "tsquic"],
  ["rebind-port", "ngtcp2-client"],
  ["rebind-addr", "tsquic"],
  ["rebind-addr", "ngtcp2-client"],
  ["connectionmigration", "tsquic"],
  ["connectionmigration", "ngtcp2-server"],
  ["connectionmigration", "ngtcp2-client"],
  ["clientmigration", "tsquic"],
  ["clientmigration", "ngtcp2-client"],
  ["chacha20", "tsquic"],
  ["keyupdate", "ngtcp2-server"],
  ["resumption", "ngtcp2-server"],
  ["resumption", "ngtcp2-client"],
  ["zerortt", "tsquic"],
  ["zerortt", "ngtcp2-server"],
  ["zerortt", "ngtcp2-client"],
];

for (const [name, peer] of FAST) {
  test(`interop-runner ${name} × ${peer}: every file intact`, { timeout: 60_000 }, async () => {
    const r = await runCase(name, peer);
    assert.equal(r.status, "passed", r.detail);
  });
}
