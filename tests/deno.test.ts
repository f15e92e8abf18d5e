// The behavioural suite with the guvnor CLI running on Deno.
import { behaviourSuite } from "./suite.ts";
import { supervisionSuite } from "./suite-supervision.ts";

behaviourSuite("deno");
supervisionSuite("deno");
