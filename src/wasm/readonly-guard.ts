/**
 * Makes WASI preopens read-only: node:wasi has no such option, so the calls that could change a
 * read-only tree are refused with ERRNO_ROFS. Descriptors opened under a read-only preopen
 * inherit its read-only mark.
 */

const ERRNO_ROFS = 69;
const OFLAGS_WRITE = 1 | 4 | 8; // CREAT | EXCL | TRUNC
const FDFLAGS_APPEND = 1;
// fd_datasync, fd_write, fd_allocate, fd_filestat_set_size: the rights wasi-libc asks for only when
// opening for writing (a read-only open asks for every other right, so those cannot be tested).
const WRITE_RIGHTS = (1n << 0n) | (1n << 6n) | (1n << 8n) | (1n << 22n);

type Fn = (...args: never[]) => number;
export type WasiImports = Record<string, Fn>;

export function guardReadOnly(
  imports: WasiImports,
  readOnlyFds: Iterable<number>,
  memory: () => WebAssembly.Memory,
): WasiImports {
  const ro = new Set(readOnlyFds);
  const call = (name: string, args: unknown[]): number =>
    (imports[name] as unknown as (...a: unknown[]) => number)(...args);
  const refuseIf =
    (name: string, fdArgs: readonly number[]) =>
    (...args: unknown[]): number =>
      fdArgs.some((i) => ro.has(args[i] as number)) ? ERRNO_ROFS : call(name, args);
  return {
    ...imports,
    path_open: (...args: unknown[]): number => {
      const [dirfd, , , , oflags, rightsBase, , fdflags, fdOut] = args as [
        number,
        number,
        number,
        number,
        number,
        bigint,
        bigint,
        number,
        number,
      ];
      const readOnly = ro.has(dirfd);
      if (
        readOnly &&
        ((oflags & OFLAGS_WRITE) !== 0 ||
          (rightsBase & WRITE_RIGHTS) !== 0n ||
          (fdflags & FDFLAGS_APPEND) !== 0)
      ) {
        return ERRNO_ROFS;
      }
      const rc = call("path_open", args);
      if (rc === 0 && readOnly) ro.add(new DataView(memory().buffer).getUint32(fdOut, true));
      return rc;
    },
    path_create_directory: refuseIf("path_create_directory", [0]),
    path_remove_directory: refuseIf("path_remove_directory", [0]),
    path_unlink_file: refuseIf("path_unlink_file", [0]),
    path_rename: refuseIf("path_rename", [0, 3]),
    path_symlink: refuseIf("path_symlink", [2]),
    path_link: refuseIf("path_link", [0, 4]),
    path_filestat_set_times: refuseIf("path_filestat_set_times", [0]),
    fd_filestat_set_size: refuseIf("fd_filestat_set_size", [0]),
    fd_filestat_set_times: refuseIf("fd_filestat_set_times", [0]),
    fd_allocate: refuseIf("fd_allocate", [0]),
    fd_write: refuseIf("fd_write", [0]),
    fd_pwrite: refuseIf("fd_pwrite", [0]),
    fd_close: (...args: unknown[]): number => {
      const rc = call("fd_close", args);
      if (rc === 0) ro.delete(args[0] as number);
      return rc;
    },
    fd_renumber: (...args: unknown[]): number => {
      const [from, to] = args as [number, number];
      const rc = call("fd_renumber", args);
      if (rc === 0) {
        ro.delete(to);
        if (ro.has(from)) {
          ro.delete(from);
          ro.add(to);
        }
      }
      return rc;
    },
  };
}
