// Entry point of a worker process started by the arbiter.
import process from "node:process";
import { bootstrap, WORKER_ENV } from "./bootstrap.ts";

await bootstrap(JSON.parse(process.env[WORKER_ENV] ?? "null") ?? (() => {
  throw new Error(`${WORKER_ENV} is not set: this file is started by the guvnor arbiter`);
})());
