// The one place the version lives (package.json and deno.json say the same; build.ts checks).
export const VERSION = "0.1.0";
