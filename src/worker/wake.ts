// The worker's side of the arbiter's wake-up channel (arbiter/wake.ts): one byte when it has
// news the arbiter should act on now. A plain send(2): node:net would cost a worker ~2 MiB.
import { sendNoWait } from "../sockets/libc.ts";

const BYTE = new Uint8Array([0x21]);

export class ArbiterWake {
  constructor(readonly fd: number) {}

  /** Best effort: an arbiter that is gone or a full buffer change nothing; the tick still finds the news. */
  wake(): void {
    sendNoWait(this.fd, BYTE);
  }
}
