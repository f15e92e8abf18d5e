// The behavioural suite with the guvnor CLI running on Deno.
import { behaviourSuite } from "./suite.ts";

behaviourSuite("deno");
