import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { chCall } from "../src/vm/cloud-hypervisor/api-client.js";
import { chSimAgentArgs } from "./helpers/ch-sim.js";
import { guestVm } from "./helpers/manifests.js";
import { TestCluster, waitFor } from "./helpers/cluster.js";
import { testGuest } from "./helpers/guest.js";
import { HttpsFiles } from "./helpers/https-files.js";

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/** A fresh OpenSSH ed25519 public key line. */
function sshPublicKey(comment: string): string {
  const raw = generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" });
  const field = (b: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw.subarray(-32))]);
  return `ssh-ed25519 ${blob.toString("base64")} ${comment}`;
}

/** What `qemu-img info` says about a disk file. */
function imageInfo(path: string): { format: string; backing?: string } {
  const info = JSON.parse(
    execFileSync("qemu-img", ["info", "--output=json", "-U", path], { encoding: "utf8" }),
  ) as { format: string; "full-backing-filename"?: string };
  return {
    format: info.format,
    ...(info["full-backing-filename"] === undefined
      ? {}
      : { backing: info["full-backing-filename"] }),
  };
}

/** One file out of an ISO 9660 image (Joliet names), read with isoinfo. */
const isoFile = (iso: string, name: string): string =>
  execFileSync("isoinfo", ["-i", iso, "-J", "-x", `/${name}`], { encoding: "utf8" });

describe("VM disks from https images, and the cloud-init seed", () => {
  let c: TestCluster;
  let files: HttpsFiles;
  let filesDir: string;
  let guest: { kernel: string; initrd: string };
  const image = randomBytes(3 * 1024 * 1024);
  const digest = sha256(image);

  before(async () => {
    guest = testGuest();
    filesDir = mkdtempSync(join(tmpdir(), "kcore-files-"));
    files = await HttpsFiles.start(filesDir);
    c = await TestCluster.start([
      {
        name: "ch1",
        args: [
          ...chSimAgentArgs(),
          // Four 1-cpu VMs on a 2-core node.
          "--cpu-allocation-ratio",
          "4",
        ],
        env: { NODE_EXTRA_CA_CERTS: files.caFile },
      },
    ]);
  });
  after(async () => {
    await c.stop();
    await files.close();
    rmSync(filesDir, { recursive: true, force: true });
  });

  const manifest = (name: string, spec: Record<string, unknown>): string =>
    guestVm(name, guest, spec);
  const apply = async (...docs: string[]): Promise<void> => {
    const r = await c.kctlInput(docs.join("\n---\n"), "apply", "-f", "-");
    assert.equal(r.code, 0, r.stderr);
  };
  const agentDir = (): string => c.agentDir("ch1");
  const uidOf = async (name: string): Promise<string> =>
    ((await c.json("get", "vm", name)).metadata as { uid: string }).uid;
  const imagesDir = (): string[] => readdirSync(join(agentDir(), "images"));

  test("two VMs from one image: one verified download, two copy-on-write overlays over it", async () => {
    const cores = cpus().length;
    assert.match(
      await c.ok("get", "nodes", "-o", "wide"),
      new RegExp(`ch1 .* ${cores * 4}\\s+\\S+\\s*$`, "m"),
      "--cpu-allocation-ratio 4 shows in the node's cpu capacity",
    );
    const url = files.serve("/base.img", image);
    const disk = { disks: [{ name: "root", url, sha256: digest, format: "raw" }] };
    await apply(manifest("img-a", disk), manifest("img-b", disk));
    for (const name of ["img-a", "img-b"])
      await c.ok("wait", "vm", name, "--for", "state=Running", "--timeout", "60s");

    assert.equal(files.requests("/base.img"), 1, "the image is downloaded once");
    const cached = join(agentDir(), "images", digest);
    assert.equal(sha256(readFileSync(cached)), digest);
    assert.deepEqual(imagesDir(), [digest], "no partial files");
    const overlays = await Promise.all(
      ["img-a", "img-b"].map(async (name) =>
        join(agentDir(), "disks", `${name}_${await uidOf(name)}`, "root.qcow2"),
      ),
    );
    for (const o of overlays) assert.deepEqual(imageInfo(o), { format: "qcow2", backing: cached });
    assert.notEqual(overlays[0], overlays[1]);

    // The hypervisor was given the overlay, never the shared image.
    const info = await chCall(join(agentDir(), "run", "img-a.sock"), "GET", "vm.info", undefined, {
      timeoutMs: 5000,
    });
    const disks = (info.body as { config: { disks: { path: string }[] } }).config.disks;
    assert.deepEqual(
      disks.map((d) => d.path),
      [overlays[0]],
    );
  });

  test("a wrong sha256 fails the VM naming both digests, and keeps nothing of the download", async () => {
    const url = files.serve("/other.img", randomBytes(1024 * 1024));
    const claimed = digest.replace(/^./, (ch) => (ch === "0" ? "1" : "0"));
    await apply(manifest("bad-digest", { disks: [{ name: "root", url, sha256: claimed }] }));
    // The agent retries with backoff, so the VM is Failed between attempts: read it then.
    const s = await waitFor(
      "the VM to fail",
      async () => {
        const st = (await c.json("get", "vm", "bad-digest")).status;
        return st.state === "Failed" ? st : undefined;
      },
      30_000,
      100,
    );
    assert.match(String(s.message), /sha256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\)/);
    assert.equal(existsSync(join(agentDir(), "images", claimed)), false, "never under its digest");
    const overlay = join(
      agentDir(),
      "disks",
      `bad-digest_${await uidOf("bad-digest")}`,
      "root.qcow2",
    );
    assert.equal(existsSync(overlay), false);
    await c.ok("delete", "vm", "bad-digest");
    // A retry may have been downloading when the VM was deleted: it too leaves nothing.
    await waitFor(
      "neither the bad file nor a partial one to stay",
      () => imagesDir().length === 1 && imagesDir()[0] === digest && !existsSync(overlay),
      15_000,
    );
  });

  test("a download cut off midway leaves no partial file, and the next attempt completes it", async () => {
    const body = randomBytes(2 * 1024 * 1024);
    const url = files.serve("/flaky.img", body, 2);
    await apply(manifest("flaky", { disks: [{ name: "root", url, sha256: sha256(body) }] }));
    await c.ok("wait", "vm", "flaky", "--for", "state=Running", "--timeout", "60s");
    assert.equal(files.requests("/flaky.img"), 3, "two cut answers, then a whole one");
    const log = readFileSync(join(c.dir, "agent-ch1.log"), "utf8");
    assert.match(log, /GET https:\/\/127\.0\.0\.1:\d+\/flaky\.img: [^"]+; trying again in/);
    assert.deepEqual(imagesDir().sort(), [digest, sha256(body)].sort());
    const s = (await c.json("get", "vm", "flaky")).status;
    assert.equal(s.restartCount, 1, "one start after the failed ones");
  });

  test("SSH keys and user data reach the guest in a NoCloud seed (ISO 9660 labelled cidata)", async () => {
    const key = sshPublicKey("ops@example");
    const keyDoc = JSON.stringify({
      apiVersion: "kcore.dev/v1",
      kind: "SshKey",
      metadata: { name: "ops" },
      spec: { publicKey: key },
    });
    const userData = "#cloud-config\nruncmd:\n  - echo 'hello: world'\n";
    await apply(keyDoc, manifest("seeded", { sshKeys: ["ops"], cloudInit: { userData } }));
    await c.ok("wait", "vm", "seeded", "--for", "state=Running", "--timeout", "30s");
    const uid = await uidOf("seeded");
    const seed = join(agentDir(), "vms", uid, "seed.iso");

    const header = execFileSync("isoinfo", ["-d", "-i", seed], { encoding: "utf8" });
    assert.match(header, /Volume id: cidata/);
    assert.equal(isoFile(seed, "user-data"), userData);
    assert.deepEqual(parse(isoFile(seed, "meta-data")), {
      "instance-id": uid,
      "local-hostname": "seeded",
      "public-keys": [key],
    });

    const info = await chCall(join(agentDir(), "run", "seeded.sock"), "GET", "vm.info", undefined, {
      timeoutMs: 5000,
    });
    const disks = (info.body as { config: { disks: { path: string; readonly?: boolean }[] } })
      .config.disks;
    assert.deepEqual(disks, [{ ...disks[0], path: seed, readonly: true }]);
  });
});
