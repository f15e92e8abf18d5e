// USR2, gunicorn's hot upgrade: start a new arbiter from the executable on disk on the same
// sockets; the operator then stops the old one (WINCH + QUIT/TERM) or revives it (HUP).
// Pid files as gunicorn: the old arbiter's becomes FILE.oldbin, the new one writes FILE.2 and
// takes FILE once its parent is gone ("promoted").
import process from "node:process";
import type { Logger } from "../log/logger.ts";
import { type ChildProcessHandle, type ExitStatus, runtime } from "../runtime/index.ts";
import { FD_ENV, PID_ENV } from "../handoff.ts";
import type { Listener } from "../sockets/listeners.ts";
import type { ReusePortSlots } from "../sockets/slots.ts";
import { Pidfile } from "./pidfile.ts";
import { spawnHanding } from "./context.ts";

/** Other sockets a new arbiter takes over: their fds, and the variables naming them. */
export interface Handover {
  fds: number[];
  env(childFds: number[]): Record<string, string>;
}

export class HotUpgrade {
  /** The arbiter that started us with USR2, until it exits. */
  parent?: number;
  /** The arbiter we started with USR2, while it runs. */
  child?: ChildProcessHandle;
  pidfile?: Pidfile;
  #pidPath = "";

  constructor(readonly log: Logger) {
    const parent = Number(process.env[PID_ENV]);
    delete process.env[PID_ENV];
    if (parent && parent === process.ppid) this.parent = parent;
  }

  /** The pid file, as FILE.2 while the arbiter that started us still runs. */
  createPidfile(path: string): void {
    if (!path) return;
    this.#pidPath = path;
    this.pidfile = new Pidfile(this.parent ? `${path}.2` : path);
    this.pidfile.create();
  }

  /** Unix socket files are removed only by an arbiter with no other arbiter on its sockets. */
  get ownsSockets(): boolean {
    return !this.parent && !this.child;
  }

  /** Starts the new arbiter with our listeners; calls onExit when it ends. */
  start(cmd: string[], cwd: string, listeners: Listener[], extraEnv: Record<string, string>, onExit: (s: ExitStatus) => void, slots?: ReusePortSlots, more?: Handover): void {
    if (this.child) return this.log.warn(`USR2 ignored: a new arbiter is already running (pid: ${this.child.pid})`);
    if (this.parent) return this.log.warn("USR2 ignored: this arbiter is itself an upgrade; stop the old one first");
    // --reuse-port: the extra slot sockets go too, after the listeners, so no slot's queue is lost.
    // The control and metrics sockets go last; every fd is inheritable only during this spawn.
    const slotFds = slots?.handoverFds() ?? [], moreFds = more?.fds ?? [];
    const fds = [...listeners.map((l) => l.fd), ...slotFds, ...moreFds];
    const childFds = runtime.childFds(fds);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, extraEnv, { [FD_ENV]: childFds.slice(0, listeners.length).join(","), [PID_ENV]: String(process.pid) });
    Object.assign(env, slots?.handoverEnv(childFds.slice(listeners.length, listeners.length + slotFds.length)) ?? {});
    Object.assign(env, more?.env(childFds.slice(listeners.length + slotFds.length)) ?? {});
    this.pidfile?.rename(`${this.#pidPath}.oldbin`);
    const child = spawnHanding({ cmd, env, cwd, fds });
    this.child = child;
    this.log.info(`Started new arbiter (pid: ${child.pid}) on the same sockets`);
    child.exited.then((status) => {
      this.child = undefined;
      this.pidfile?.rename(this.#pidPath);
      onExit(status);
    });
  }

  /** True once, when the arbiter that started us has gone: the pid file becomes FILE. */
  promoteIfOrphaned(listeners: Listener[]): boolean {
    if (!this.parent || process.ppid === this.parent) return false;
    this.parent = undefined;
    this.pidfile?.rename(this.#pidPath);
    // The unix socket files are now ours to remove on exit.
    for (const l of listeners) if (l.kind === "unix") l.ownedPath = l.address.slice("unix:".length);
    this.log.info("Master has been promoted.");
    return true;
  }
}
