// Socket and descriptor calls through libc (Linux x86_64/arm64 constants). Neither runtime can
// create a listening socket that a child process inherits, so we do it here.
import process from "node:process";
import { check, errno, libc as fns } from "../sys/ffi.ts";
import { encodeUnix } from "./address.ts";

export { SysError } from "../sys/ffi.ts";

export const AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10;
const SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_TYPE = 3, SO_REUSEPORT = 15, SO_ACCEPTCONN = 30;
const IPPROTO_IPV6 = 41, IPV6_V6ONLY = 26, IPPROTO_TCP = 6, TCP_INFO = 11;
const F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1, F_GETFL = 3, F_SETFL = 4, F_DUPFD_CLOEXEC = 1030, O_NONBLOCK = 0o4000;
const EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2;
// The kernel declares struct epoll_event __attribute__((packed)) on x86_64 only.
const EPOLL_EVENT_PACKED = process.arch === "x64";

const int = (v: number) => new Int32Array([v]);

/**
 * A new stream socket, without close-on-exec: Deno.Command children inherit it at the same
 * number (Bun.spawn places it explicitly). Workers set close-on-exec on their copies at boot.
 */
export function socket(family: number): number {
  return check("socket", fns.socket(family, SOCK_STREAM, 0));
}

export function setReuseAddr(fd: number): void {
  check("setsockopt(SO_REUSEADDR)", fns.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, int(1), 4));
}

export function setReusePort(fd: number): void {
  check("setsockopt(SO_REUSEPORT)", fns.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, int(1), 4));
}

export function setV6Only(fd: number): void {
  check("setsockopt(IPV6_V6ONLY)", fns.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, int(1), 4));
}

export function bind(fd: number, sockaddr: Uint8Array): void {
  check("bind", fns.bind(fd, sockaddr, sockaddr.length));
}

export function listen(fd: number, backlog: number): void {
  check("listen", fns.listen(fd, backlog));
}

/** The raw sockaddr the socket is bound to. */
export function getsockname(fd: number): Uint8Array {
  const buf = new Uint8Array(128), len = new Uint32Array([128]);
  check("getsockname", fns.getsockname(fd, buf, len));
  return buf.subarray(0, len[0]);
}

/** True when fd is a listening stream socket (for fd:// and systemd sockets). */
export function isListeningStream(fd: number): boolean {
  const v = new Int32Array(1), len = new Uint32Array([4]);
  check("getsockopt(SO_TYPE)", fns.getsockopt(fd, SOL_SOCKET, SO_TYPE, v, len));
  if (v[0] !== SOCK_STREAM) return false;
  check("getsockopt(SO_ACCEPTCONN)", fns.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, v, len));
  return v[0] === 1;
}

/** True when SO_REUSEPORT is set on fd (a socket handed over by USR2 or systemd's ReusePort=). */
export function hasReusePort(fd: number): boolean {
  const v = new Int32Array(1), len = new Uint32Array([4]);
  check("getsockopt(SO_REUSEPORT)", fns.getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, v, len));
  return v[0] !== 0;
}

export function isCloexec(fd: number): boolean {
  return (check("fcntl(F_GETFD)", fns.fcntl(fd, F_GETFD, 0)) & FD_CLOEXEC) !== 0;
}

export function setCloexec(fd: number, on: boolean): void {
  const flags = check("fcntl(F_GETFD)", fns.fcntl(fd, F_GETFD, 0));
  check("fcntl(F_SETFD)", fns.fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC));
}

/**
 * O_NONBLOCK on the open file description (shared with the arbiter and the other workers):
 * every acceptor of a shared listener must be non-blocking, or an event loop that lost the
 * race for a connection blocks in accept().
 */
export function setNonBlocking(fd: number): void {
  const flags = check("fcntl(F_GETFL)", fns.fcntl(fd, F_GETFL, 0));
  check("fcntl(F_SETFL)", fns.fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

/** Makes `newFd` refer to what `oldFd` refers to, closing newFd's previous file first. */
export function dup2(oldFd: number, newFd: number): void {
  check("dup2", fns.dup2(oldFd, newFd));
}

/** An epoll registration as /proc/<pid>/fdinfo shows it: event mask and the loop's opaque data. */
export interface EpollEntry {
  events: number;
  data: bigint;
}

/** epoll_ctl(ADD): `struct epoll_event` is packed on x86_64 (u32 events, u64 data: 12 bytes). */
export function epollAdd(epfd: number, fd: number, entry: EpollEntry): void {
  const ev = new DataView(new ArrayBuffer(16)); // 16 also covers arm64's padded layout (data at 8)
  ev.setUint32(0, entry.events, true);
  if (EPOLL_EVENT_PACKED) ev.setBigUint64(4, entry.data, true);
  else ev.setBigUint64(8, entry.data, true);
  check("epoll_ctl(ADD)", fns.epoll_ctl(epfd, EPOLL_CTL_ADD, fd, new Uint8Array(ev.buffer)));
}

/** epoll_ctl(DEL): the event loop stops hearing about `fd` (the fd itself stays open). */
export function epollDel(epfd: number, fd: number): void {
  check("epoll_ctl(DEL)", fns.epoll_ctl(epfd, EPOLL_CTL_DEL, fd, new Uint8Array(16)));
}

/**
 * Connections waiting in a TCP listener's accept queue, or -1 when the socket cannot say (a unix
 * socket). For a listening socket the kernel reports the queue length as tcp_info.tcpi_unacked
 * (u32 at byte 24, after eight u8 fields and four u32).
 */
export function acceptQueueLength(fd: number): number {
  const info = new Uint32Array(26), len = new Uint32Array([104]);
  return fns.getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, len) < 0 || len[0] < 28 ? -1 : info[6];
}

/**
 * Milliseconds since a TCP connection last sent data (since it was accepted, when it never did),
 * or -1 when the socket cannot say: tcp_info.tcpi_last_data_sent, the u32 at byte 44.
 */
export function msSinceSent(fd: number): number {
  const info = new Uint32Array(26), len = new Uint32Array([104]);
  return fns.getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, len) < 0 || len[0] < 48 ? -1 : info[11];
}

export function close(fd: number): void {
  fns.close(fd);
}

/** Sets the process umask and returns the previous one. */
export function umask(mask: number): number {
  return Number(fns.umask(mask));
}

/** Closes what `fd` refers to but keeps the number taken, by an unconnected socket (dup2 is atomic). */
export function replaceWithPlaceholder(fd: number): void {
  const placeholder = check("socket(AF_UNIX)", fns.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  try {
    check("dup2", fns.dup2(placeholder, fd));
  } finally {
    fns.close(placeholder);
  }
}

/** One datagram to a unix socket path ("@name" is the abstract namespace), e.g. sd_notify. */
export function sendUnixDatagram(path: string, message: string): void {
  const fd = check("socket(AF_UNIX, SOCK_DGRAM)", fns.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  try {
    // An abstract address is exactly its bytes, without encodeUnix's trailing NUL.
    const addr = path.startsWith("@") ? encodeUnix(`\0${path.slice(1)}`).subarray(0, -1) : encodeUnix(path);
    const msg = new TextEncoder().encode(message);
    check("sendto", Number(fns.sendto(fd, msg, msg.length, 0, addr, addr.length)));
  } finally {
    fns.close(fd);
  }
}

/**
 * True when something listens at a unix socket path: a non-blocking connect succeeds, or finds
 * the queue full (EAGAIN). False when nothing does (ECONNREFUSED: a file left by a crash).
 */
export function unixSocketAnswers(path: string): boolean {
  const SOCK_NONBLOCK = 0o4000, EAGAIN = 11;
  const fd = check("socket(AF_UNIX)", fns.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  try {
    const addr = encodeUnix(path);
    if (fns.connect(fd, addr, addr.length) === 0) return true;
    return errno() === EAGAIN;
  } finally {
    fns.close(fd);
  }
}

/** The local and peer ports of a connected TCP socket; null for anything else (files, listeners, unix). */
export function tcpPorts(fd: number): { local: number; peer: number } | null {
  const buf = new Uint8Array(128), len = new Uint32Array([128]);
  if (fns.getpeername(fd, buf, len) !== 0) return null;
  const family = buf[0] | (buf[1] << 8);
  if (family !== AF_INET && family !== AF_INET6) return null;
  const peer = (buf[2] << 8) | buf[3];
  len[0] = 128;
  if (fns.getsockname(fd, buf, len) !== 0) return null;
  return { local: (buf[2] << 8) | buf[3], peer };
}

/** Ends both directions of a connection; the event loop that owns `fd` then sees it close. */
export function shutdownBoth(fd: number): void {
  fns.shutdown(fd, 2); // SHUT_RDWR
}

/**
 * Writes `data` to a connected socket without ever blocking or raising SIGPIPE; false when it
 * could not (the peer is gone, the buffer is full).
 */
export function sendNoWait(fd: number, data: Uint8Array): boolean {
  const MSG_DONTWAIT = 0x40, MSG_NOSIGNAL = 0x4000;
  return Number(fns.send(fd, data, data.length, MSG_DONTWAIT | MSG_NOSIGNAL)) === data.length;
}

/** A second descriptor for what `fd` refers to, close-on-exec. */
export function dup(fd: number): number {
  return check("fcntl(F_DUPFD_CLOEXEC)", fns.fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

/** A connected pair of unix stream sockets, close-on-exec (the arbiter's wake-up channel). */
export function socketpair(): [number, number] {
  const sv = new Int32Array(2);
  check("socketpair", fns.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  return [sv[0], sv[1]];
}
