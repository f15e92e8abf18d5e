import type { UserConfig } from "../types.ts";

/** Typed helper for `guvnor.config.ts`: `export default defineConfig({ workers: 4 })`. */
export function defineConfig(config: UserConfig): UserConfig {
  return config;
}
