import { KcoreError } from "../../domain/errors.js";
import { VmService } from "../../gen/kcore/v1/vm_pb.js";
import { connect, type GlobalFlags } from "../connect.js";
import { out } from "../output.js";

/** `kctl set vm NAME --state Running|Stopped`. */
export async function setVmState(name: string, state: string, flags: GlobalFlags): Promise<void> {
  const c = connect(VmService, flags);
  try {
    await c.setVmState({ name, desiredState: state });
    out.line(`vm/${name} desiredState=${state}`);
  } finally {
    c.close();
  }
}

/** Ctrl-] ends a console session, as in telnet and virsh. */
export const DETACH_BYTE = 0x1d;

/**
 * `kctl console vm NAME`: the VM's serial console on this terminal (raw mode when it is one).
 * Ctrl-] detaches, and so does the end of standard input; the VM keeps running either way. The
 * console ending from the other side (the VM stopped, the node went away) is an error.
 */
export async function consoleVm(name: string, flags: GlobalFlags): Promise<void> {
  const c = connect(VmService, flags);
  const ac = new AbortController();
  // Set from event handlers, so kept in an object the compiler does not narrow.
  const session = { detached: false };
  const detach = (): void => {
    session.detached = true;
    call.end();
    ac.abort();
  };
  const call = c.attachConsole({ signal: ac.signal });
  call.write({ name, data: new Uint8Array() });
  const stdin = process.stdin;
  const raw = stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  if (process.stderr.isTTY)
    process.stderr.write(`connected to vm/${name}; press Ctrl-] to detach\r\n`);
  const onData = (d: Buffer): void => {
    const i = d.indexOf(DETACH_BYTE);
    if (i < 0) {
      call.write({ data: d });
      return;
    }
    if (i > 0) call.write({ data: d.subarray(0, i) });
    detach();
  };
  stdin.on("data", onData);
  stdin.once("end", detach);
  try {
    for await (const chunk of call) await out.write(chunk.data);
  } catch (e) {
    if (!session.detached) throw e;
  } finally {
    stdin.off("data", onData);
    stdin.off("end", detach);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
    c.close();
  }
  if (!session.detached) throw new KcoreError("Unavailable", `the console of vm/${name} closed`);
  if (process.stderr.isTTY) process.stderr.write("\r\ndetached\r\n");
}
