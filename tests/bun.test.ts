// The behavioural suite with the guvnor CLI running on Bun.
import { behaviourSuite } from "./suite.ts";
import { nativeSuite } from "./suite-native.ts";
import { balanceSuite } from "./suite-balance.ts";
import { supervisionSuite } from "./suite-supervision.ts";
import { systemdSuite } from "./suite-systemd.ts";
import { upgradeSuite } from "./suite-upgrade.ts";
import { privilegesSuite } from "./suite-privileges.ts";
import { securitySuite } from "./suite-security.ts";
import { lifecycleSuite } from "./suite-lifecycle.ts";
import { workersSuite } from "./suite-workers.ts";
import { observeSuite } from "./suite-observe.ts";
import { tlsSuite } from "./suite-tls.ts";
import { hardeningSuite } from "./suite-hardening.ts";
import { robustSuite } from "./suite-robust.ts";
import { shipSuite } from "./suite-ship.ts";

behaviourSuite("bun");
nativeSuite("bun");
balanceSuite("bun");
supervisionSuite("bun");
systemdSuite("bun");
upgradeSuite("bun");
privilegesSuite("bun");
securitySuite("bun");
lifecycleSuite("bun");
workersSuite("bun");
observeSuite("bun");
tlsSuite("bun");
hardeningSuite("bun");
robustSuite("bun");
// Compiled executables are Bun's: deno compile needs a denort binary this machine cannot download.
shipSuite();
