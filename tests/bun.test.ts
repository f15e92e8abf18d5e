// The behavioural suite with the guvnor CLI running on Bun.
import { behaviourSuite } from "./suite.ts";

behaviourSuite("bun");
