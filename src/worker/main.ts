// A worker's own entry, which the guvnor command's arbiter starts: it loads what serving needs and
// nothing of the command line, the config loaders or the arbiter (a compiled guvnor, and a program
// that embeds serve(), start themselves instead: see runtime/command.ts).
import { runWorkerFromEnv } from "./bootstrap.ts";

await runWorkerFromEnv();
