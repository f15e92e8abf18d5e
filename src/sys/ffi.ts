// The one binding to libc (Linux x86_64/arm64): every foreign call guvnor makes is declared
// here. sockets/libc.ts, sys/process.ts and sys/memory.ts wrap them by topic.
import { runtime } from "../runtime/index.ts";
import type { FfiFunctions, FfiSymbol } from "../runtime/types.ts";

const SYMBOLS = {
  // sockets
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "buffer", "u32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "buffer", "buffer"], returns: "i32" },
  bind: { args: ["i32", "buffer", "u32"], returns: "i32" },
  listen: { args: ["i32", "i32"], returns: "i32" },
  getsockname: { args: ["i32", "buffer", "buffer"], returns: "i32" },
  connect: { args: ["i32", "buffer", "u32"], returns: "i32" },
  getpeername: { args: ["i32", "buffer", "buffer"], returns: "i32" },
  shutdown: { args: ["i32", "i32"], returns: "i32" },
  socketpair: { args: ["i32", "i32", "i32", "buffer"], returns: "i32" },
  sendto: { args: ["i32", "buffer", "u64", "i32", "buffer", "u32"], returns: "i64" },
  send: { args: ["i32", "buffer", "u64", "i32"], returns: "i64" },
  epoll_ctl: { args: ["i32", "i32", "i32", "buffer"], returns: "i32" },
  // descriptors
  fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
  dup2: { args: ["i32", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  // memory shared between the arbiter and a worker
  memfd_create: { args: ["buffer", "u32"], returns: "i32" },
  open: { args: ["buffer", "i32", "u32"], returns: "i32" },
  ftruncate: { args: ["i32", "i64"], returns: "i32" },
  posix_fallocate: { args: ["i32", "i64", "i64"], returns: "i32" },
  pread: { args: ["i32", "buffer", "u64", "i64"], returns: "i64" },
  pwrite: { args: ["i32", "buffer", "u64", "i64"], returns: "i64" },
  mmap: { args: ["buffer", "u64", "i32", "i32", "i32", "i64"], returns: "pointer" },
  munmap: { args: ["pointer", "u64"], returns: "i32" },
  // the process
  umask: { args: ["u32"], returns: "u32" },
  isatty: { args: ["i32"], returns: "i32" },
  prctl: { args: ["i32", "u64", "u64", "u64", "u64"], returns: "i32" },
  setsid: { args: [], returns: "i32" },
  getrlimit: { args: ["i32", "buffer"], returns: "i32" },
  setrlimit: { args: ["i32", "buffer"], returns: "i32" },
  signal: { args: ["i32", "u64"], returns: "u64" },
  __errno_location: { args: [], returns: "pointer" },
} satisfies Record<string, FfiSymbol>;

/**
 * libc's functions, each bound at its first use: a worker uses about a third of them, and binding
 * all of them takes Deno ~1.5 ms more per process.
 */
export const libc = {} as FfiFunctions<typeof SYMBOLS>;
for (const name of Object.keys(SYMBOLS) as (keyof typeof SYMBOLS)[]) {
  Object.defineProperty(libc, name, {
    configurable: true,
    get() {
      const fn = runtime.dlopen("libc.so.6", { [name]: SYMBOLS[name] })[name];
      Object.defineProperty(libc, name, { value: fn });
      return fn;
    },
  });
}
// Bound now: errno is read right after a failed call, and binding then could overwrite it.
void libc.__errno_location;

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 9: "EBADF", 12: "ENOMEM", 13: "EACCES", 17: "EEXIST", 21: "EISDIR", 22: "EINVAL",
  23: "ENFILE", 24: "EMFILE", 28: "ENOSPC", 38: "ENOSYS", 40: "ELOOP", 88: "ENOTSOCK", 95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 122: "EDQUOT",
};

/** A failed libc call, with the errno name as `code` (EADDRINUSE, EACCES, …). */
export class SysError extends Error {
  readonly code: string;
  readonly errno: number;
  constructor(call: string, errno: number) {
    const code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
    super(`${call} failed: ${code}`);
    this.code = code;
    this.errno = errno;
  }
}

/** The calling thread's errno, right after a failed call. */
export function errno(): number {
  return runtime.readI32(libc.__errno_location());
}

/** Returns `result`, or throws a SysError when libc said -1. */
export function check(call: string, result: number): number {
  if (result < 0) throw new SysError(call, errno());
  return result;
}
