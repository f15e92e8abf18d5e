// Memory shared with workers, with no path anyone could plant or replace: an anonymous memfd (or,
// with --worker-tmp-dir, an unnamed O_TMPFILE file in that directory), fully allocated up front so
// a full disk or tmpfs is an error here, never a SIGBUS on a first write to a sparse page. A memfd
// is sealed at its size: a worker cannot shrink it under another process's mapping. The arbiter
// itself never maps what a worker can write: it reads it with pread (readAt), so nothing a
// worker does to the file can fault the arbiter.
import { runtime } from "../runtime/index.ts";
import { check, errno, libc, SysError } from "./ffi.ts";

const MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;
const F_ADD_SEALS = 1033, F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4;
const O_RDWR = 2, O_EXCL = 0o200, O_CLOEXEC = 0o2000000, O_TMPFILE = 0o20200000;
const PROT_RW = 3, MAP_SHARED = 1;

/** A new close-on-exec descriptor of `length` allocated bytes; `dir` "" means anonymous memory. */
export function createSharedFile(length: number, dir: string): number {
  const fd = dir
    ? check(`open(${dir}, O_TMPFILE)`, libc.open(cString(dir), O_RDWR | O_TMPFILE | O_EXCL | O_CLOEXEC, 0o600))
    : check("memfd_create", libc.memfd_create(cString("guvnor-worker"), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  try {
    check("ftruncate", libc.ftruncate(fd, length));
    // posix_fallocate returns the error number instead of setting errno.
    const err = libc.posix_fallocate(fd, 0, length);
    if (err !== 0) throw new SysError("posix_fallocate", err);
    if (!dir) check("fcntl(F_ADD_SEALS)", libc.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
    return fd;
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

export interface SharedMapping {
  readonly bytes: Uint8Array;
  /** Releases the mapping: `bytes` must not be touched afterwards. */
  unmap(): void;
}

/** Maps `length` bytes of `fd`, shared: what one process writes, the other reads at once. */
export function mapShared(fd: number, length: number): SharedMapping {
  const pointer = libc.mmap(null, length, PROT_RW, MAP_SHARED, fd, 0);
  const memory = runtime.memoryAt(pointer, length);
  if (!memory) throw new SysError("mmap", errno());
  return { bytes: new Uint8Array(memory), unmap: () => void libc.munmap(pointer, length) };
}

/** Reads `into.length` bytes of `fd` from offset 0 into `into` (what is past the end stays as it was). */
export function readAt(fd: number, into: Uint8Array): void {
  check("pread", Number(libc.pread(fd, into, into.length, 0)));
}

/** Writes `bytes` at offset 0 of `fd`. */
export function writeAt(fd: number, bytes: Uint8Array): void {
  check("pwrite", Number(libc.pwrite(fd, bytes, bytes.length, 0)));
}

/** A new close-on-exec memfd holding `data`: for handing a secret to one child without a path or an environment variable. */
export function createFileWith(data: Uint8Array): number {
  const fd = createSharedFile(Math.max(1, data.length), "");
  try {
    writeAt(fd, data);
    return fd;
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

/** The first `length` bytes of the descriptor `fd` (made by createFileWith), which is then closed. */
export function takeFile(fd: number, length: number): Uint8Array {
  try {
    const into = new Uint8Array(length);
    readAt(fd, into);
    return into;
  } finally {
    libc.close(fd);
  }
}

export function closeFd(fd: number): void {
  libc.close(fd);
}

function cString(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}
