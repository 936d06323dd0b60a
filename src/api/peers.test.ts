import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { Peers } from "./peers.js";

class FakeSession extends EventEmitter {
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
    this.emit("close");
  }
}

test("revoking a serial closes exactly the connections made with it", () => {
  const peers = new Peers();
  const a1 = new FakeSession();
  const a2 = new FakeSession();
  const b = new FakeSession();
  peers.track("aa", a1);
  peers.track("aa", a2);
  peers.track("aa", a2);
  peers.track("bb", b);
  assert.equal(peers.openCount("aa"), 2);
  peers.setRevoked(["aa"]);
  assert.ok(peers.isRevoked("aa"));
  assert.ok(!peers.isRevoked("bb"));
  assert.equal(peers.cut(["aa"]), 2);
  assert.ok(a1.destroyed && a2.destroyed && !b.destroyed);
  assert.equal(peers.openCount("aa"), 0);
  // A connection that closed by itself is forgotten.
  b.emit("close");
  assert.equal(peers.openCount("bb"), 0);
  assert.equal(peers.cut(["bb"]), 0);
});
