// Memory shared between the arbiter and one worker, with no path anyone could plant or replace:
// an anonymous memfd (or, with --worker-tmp-dir, an unnamed O_TMPFILE file in that directory),
// fully allocated up front so a full disk or tmpfs is an error here, never a SIGBUS in the
// worker on its first write to a sparse page.
import { runtime } from "../runtime/index.ts";
import { check, errno, libc, SysError } from "./ffi.ts";

const MFD_CLOEXEC = 1;
const O_RDWR = 2, O_EXCL = 0o200, O_CLOEXEC = 0o2000000, O_TMPFILE = 0o20200000;
const PROT_RW = 3, MAP_SHARED = 1;

/** A new close-on-exec descriptor of `length` allocated bytes; `dir` "" means anonymous memory. */
export function createSharedFile(length: number, dir: string): number {
  const fd = dir
    ? check(`open(${dir}, O_TMPFILE)`, libc.open(cString(dir), O_RDWR | O_TMPFILE | O_EXCL | O_CLOEXEC, 0o600))
    : check("memfd_create", libc.memfd_create(cString("guvnor-worker"), MFD_CLOEXEC));
  try {
    check("ftruncate", libc.ftruncate(fd, length));
    // posix_fallocate returns the error number instead of setting errno.
    const err = libc.posix_fallocate(fd, 0, length);
    if (err !== 0) throw new SysError("posix_fallocate", err);
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

/** A new close-on-exec memfd holding `data`: for handing a secret to one child without a path or an environment variable. */
export function createFileWith(data: Uint8Array): number {
  const fd = createSharedFile(Math.max(1, data.length), "");
  try {
    const m = mapShared(fd, Math.max(1, data.length));
    m.bytes.set(data);
    m.unmap();
    return fd;
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

/** The first `length` bytes of the descriptor `fd` (made by createFileWith), which is then closed. */
export function takeFile(fd: number, length: number): Uint8Array {
  try {
    const m = mapShared(fd, Math.max(1, length));
    const copy = m.bytes.slice(0, length);
    m.unmap();
    return copy;
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
