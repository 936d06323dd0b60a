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
 * Ctrl-] detaches; the VM keeps running.
 */
export async function consoleVm(name: string, flags: GlobalFlags): Promise<void> {
  const c = connect(VmService, flags);
  const ac = new AbortController();
  const call = c.attachConsole({ signal: ac.signal });
  call.write({ name, data: new Uint8Array() });
  const stdin = process.stdin;
  const raw = stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  if (process.stderr.isTTY)
    process.stderr.write(`connected to vm/${name}; press Ctrl-] to detach\r\n`);
  const onData = (d: Buffer): void => {
    const i = d.indexOf(DETACH_BYTE);
    if (i >= 0) {
      if (i > 0) call.write({ data: d.subarray(0, i) });
      call.end();
      ac.abort();
      return;
    }
    call.write({ data: d });
  };
  stdin.on("data", onData);
  stdin.once("end", () => {
    call.end();
  });
  try {
    for await (const chunk of call) await out.write(chunk.data);
  } catch (e) {
    if (!ac.signal.aborted) throw e;
  } finally {
    stdin.off("data", onData);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
    c.close();
  }
  if (!ac.signal.aborted && !raw) return;
  if (ac.signal.aborted && process.stderr.isTTY) process.stderr.write("\r\ndetached\r\n");
  if (!ac.signal.aborted) throw new KcoreError("Unavailable", "the console closed");
}
