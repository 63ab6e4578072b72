// Manufacturing pages of the legacy flow (Nordic provision.py's format): inputs, layouts,
// page bytes, Intel HEX, checks.
export * from "./fields.ts";
export * from "./layout.ts";
export * from "./input.ts";
export * from "./page.ts";
export * from "./ihex.ts";
export * from "./check.ts";
export * from "./build.ts";
export * from "./files.ts";
