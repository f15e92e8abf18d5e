// The behavioural suite with the guvnor CLI running on Bun.
import { behaviourSuite } from "./suite.ts";
import { nativeSuite } from "./suite-native.ts";
import { supervisionSuite } from "./suite-supervision.ts";

behaviourSuite("bun");
nativeSuite("bun");
supervisionSuite("bun");
