import assert from "node:assert/strict";
import { it } from "node:test";
import { problems } from "../../build.ts";

it("docs/settings.md, the README options table and the export maps are up to date", () => {
  assert.deepEqual(problems(), []);
});
