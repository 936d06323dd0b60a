import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parse } from "yaml";
import { seedFiles } from "./cloud-init.js";

test("cloud-init: user strings never change the structure of meta-data", () => {
  fc.assert(
    fc.property(fc.string(), fc.array(fc.string(), { maxLength: 3 }), (host, keys) => {
      const files = seedFiles({ instanceId: "i-1", hostname: host, sshPublicKeys: keys });
      const meta = parse(files["meta-data"]) as Record<string, unknown>;
      assert.equal(meta["local-hostname"], host);
      assert.equal(meta["instance-id"], "i-1");
      if (keys.length > 0) assert.deepEqual(meta["public-keys"], keys);
      assert.deepEqual(
        Object.keys(meta).sort(),
        keys.length > 0
          ? ["instance-id", "local-hostname", "public-keys"]
          : ["instance-id", "local-hostname"],
      );
    }),
  );
});
