// SMSN: the Sidewalk manufacturing serial number, SHA-256 over
// deviceType "-" STAGE DSN APID [boardId] (ASCII), as the signing tool and the device compute it.
import { sha256 } from "@noble/hashes/sha2.js";
import { FormatError, UsageError } from "../lib/errors.ts";

export type Stage = "production" | "preproduction" | "test";
export const STAGES: readonly Stage[] = ["production", "preproduction", "test"];

const STAGE_TOKEN: Record<Stage, string> = {
  production: "PRODUCTION",
  preproduction: "PREPRODUCTION",
  test: "TEST",
};

export const SMSN_LENGTH = 32;
export const APID_LENGTH = 4;
/** The device keeps the DSN in a 17-byte field with its terminator. */
export const DSN_MAX_LENGTH = 16;

export interface SmsnInput {
  deviceType: string;
  dsn: string;
  apid: string;
  stage?: Stage;
  boardId?: string;
}

const PRINTABLE_NO_SPACE = /^[\x21-\x7e]+$/;

function printable(value: unknown, field: string, fix: string): string {
  if (typeof value !== "string" || value.length === 0) throw new FormatError(`${field} is empty`, { advice: fix });
  if (!PRINTABLE_NO_SPACE.test(value)) {
    const bad = [...value].find((c) => !PRINTABLE_NO_SPACE.test(c)) ?? "";
    const shown = /\s/.test(bad) ? "white space" : `the character ${JSON.stringify(bad)} (U+${bad.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")})`;
    throw new FormatError(`${field} ${JSON.stringify(value)} contains ${shown}; only printable ASCII is allowed`, { advice: fix });
  }
  return value;
}

export function validateApid(apid: unknown): string {
  const value = printable(apid, "APID", "give the 4-character Advertised Product ID from the Sidewalk console");
  if (value.length !== APID_LENGTH) {
    throw new FormatError(`APID ${JSON.stringify(value)} has ${value.length} characters; it must have exactly 4`, {
      advice: "give the 4-character Advertised Product ID from the Sidewalk console",
    });
  }
  return value;
}

export function validateDsn(dsn: unknown): string {
  const value = printable(dsn, "DSN", "give the device serial number printed on the label");
  if (value.length > DSN_MAX_LENGTH) {
    throw new FormatError(`DSN ${JSON.stringify(value)} has ${value.length} characters; at most ${DSN_MAX_LENGTH} fit on the device`);
  }
  return value;
}

export function smsnHashInput(input: SmsnInput): string {
  const deviceType = printable(input.deviceType, "device type", "give the device type id from the Sidewalk console (e.g. A17XHX23H06INH)");
  const dsn = validateDsn(input.dsn);
  const apid = validateApid(input.apid);
  const boardId = input.boardId === undefined || input.boardId === "" ? "" : printable(input.boardId, "board id", "omit --board-id or give printable ASCII");
  const stage = input.stage ?? "production";
  if (!STAGES.includes(stage)) throw new FormatError(`unknown stage ${JSON.stringify(stage)}`, { advice: "use production, preproduction or test" });
  return `${deviceType}-${STAGE_TOKEN[stage]}${dsn}${apid}${boardId}`;
}

export function computeSmsn(input: SmsnInput): Uint8Array {
  return sha256(new TextEncoder().encode(smsnHashInput(input)));
}

export function parseStage(text: string): Stage {
  const t = text.trim().toLowerCase().replace(/[-_ ]/g, "");
  if (t === "production" || t === "prod") return "production";
  if (t === "preproduction" || t === "preprod") return "preproduction";
  if (t === "test") return "test";
  throw new FormatError(`unknown stage ${JSON.stringify(text)}`, { advice: "use production, preproduction or test" });
}

const STAGE_PREFIXES: readonly (readonly [string, Stage])[] = [
  ["RNET_", "production"],
  ["PREPROD_", "preproduction"],
  ["TEST_", "test"],
];

/**
 * The one stage rule, as Amazon's signing tool applies it: a product tag names its stage by its
 * prefix (RNET_ production, PREPROD_ pre-production, TEST_ test); a tag without one is the test
 * stage when `testCert` is set (`--test_cert`), and refused otherwise.
 */
export function stageOfProductTag(tag: string, options: { testCert?: boolean } = {}): Stage {
  for (const [prefix, stage] of STAGE_PREFIXES) if (tag.startsWith(prefix)) return stage;
  if (options.testCert) return "test";
  throw new UsageError(`unable to determine the stage from the product tag ${JSON.stringify(tag)}`, {
    advice: "product tags start with RNET_ (production), PREPROD_ (pre-production) or TEST_ (test), e.g. RNET_DAK_MYPRODUCT; --test_cert signs a tag without a prefix in the test stage",
  });
}
