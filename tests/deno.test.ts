// The behavioural suite with the guvnor CLI running on Deno.
import { behaviourSuite } from "./suite.ts";
import { nativeSuite } from "./suite-native.ts";
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

behaviourSuite("deno");
nativeSuite("deno");
supervisionSuite("deno");
systemdSuite("deno");
upgradeSuite("deno");
privilegesSuite("deno");
securitySuite("deno");
lifecycleSuite("deno");
workersSuite("deno");
observeSuite("deno");
tlsSuite("deno");
hardeningSuite("deno");
robustSuite("deno");
