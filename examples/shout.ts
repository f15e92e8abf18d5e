// The "app" of examples/echo-worker.ts: what the worker answers to each line.
export default function shout(line: string): string {
  return `${line.toUpperCase()} (from worker ${process.pid})`;
}
