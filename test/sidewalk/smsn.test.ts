import { describe, expect, test } from "bun:test";
import { FormatError } from "../../src/lib/errors.ts";
import { computeSmsn, parseStage, smsnHashInput, stageOfProductTag, toHex } from "../../src/sidewalk/index.ts";
import { seed } from "../helpers/vectors.ts";

const base = { deviceType: seed.smsn.device_type, dsn: seed.smsn.dsn, apid: seed.smsn.apid };

describe("SMSN", () => {
  test("seed vector: hash input and SMSN", () => {
    expect(smsnHashInput(base)).toBe(seed.smsn.hash_input);
    expect(toHex(computeSmsn(base))).toBe(seed.smsn.smsn_hex);
    expect(toHex(computeSmsn({ ...base, stage: "production" }))).toBe(seed.smsn.smsn_hex);
  });

  test("seed vector: the device's base64 fragments are the same SMSN", () => {
    const joined = Buffer.from(seed.smsn.device_base64_fragments.join(""), "base64").toString("hex");
    expect(joined).toBe(seed.smsn.smsn_hex);
  });

  test("stage tokens and board id", () => {
    expect(smsnHashInput({ ...base, stage: "preproduction" })).toBe("A17XHX23H06INH-PREPRODUCTIONSN1234567pd25");
    expect(smsnHashInput({ ...base, stage: "test" })).toBe("A17XHX23H06INH-TESTSN1234567pd25");
    expect(smsnHashInput({ ...base, boardId: "B01" })).toBe("A17XHX23H06INH-PRODUCTIONSN1234567pd25B01");
    // sha256("A17XHX23H06INH-TESTSN1234567pd25"), computed independently with sha256sum
    expect(toHex(computeSmsn({ ...base, stage: "test" }))).toBe(
      new Bun.CryptoHasher("sha256").update("A17XHX23H06INH-TESTSN1234567pd25").digest("hex"),
    );
  });

  test("DSN of 16 characters is accepted, 17 refused", () => {
    expect(() => computeSmsn({ ...base, dsn: "A".repeat(16) })).not.toThrow();
    expect(() => computeSmsn({ ...base, dsn: "A".repeat(17) })).toThrow('DSN "AAAAAAAAAAAAAAAAA" has 17 characters; at most 16 fit on the device');
  });

  test("invalid inputs are refused with the field named", () => {
    const cases: [Partial<typeof base> & { boardId?: string }, string][] = [
      [{ apid: "pd2" }, 'APID "pd2" has 3 characters; it must have exactly 4'],
      [{ apid: "pd255" }, 'APID "pd255" has 5 characters; it must have exactly 4'],
      [{ apid: "" }, "APID is empty"],
      [{ apid: "p d2" }, 'APID "p d2" contains white space; only printable ASCII is allowed'],
      [{ dsn: "" }, "DSN is empty"],
      [{ dsn: "SN 1" }, 'DSN "SN 1" contains white space; only printable ASCII is allowed'],
      [{ dsn: "SN\u00e91" }, 'DSN "SN\u00e91" contains the character "\u00e9" (U+00E9); only printable ASCII is allowed'],
      [{ deviceType: "" }, "device type is empty"],
      [{ boardId: "a b" }, 'board id "a b" contains white space; only printable ASCII is allowed'],
    ];
    for (const [change, message] of cases) {
      expect(() => computeSmsn({ ...base, ...change })).toThrow(message);
      expect(() => computeSmsn({ ...base, ...change })).toThrow(FormatError);
    }
    expect(() => computeSmsn({ ...base, stage: "PRODUCTION" as never })).toThrow('unknown stage "PRODUCTION"');
  });

  test("stage names and product tags", () => {
    expect(parseStage("production")).toBe("production");
    expect(parseStage("PREPRODUCTION")).toBe("preproduction");
    expect(parseStage("pre-production")).toBe("preproduction");
    expect(parseStage("test")).toBe("test");
    expect(() => parseStage("staging")).toThrow('unknown stage "staging"');
    expect(stageOfProductTag("RNET_DAK_DEMO")).toBe("production");
    expect(stageOfProductTag("PREPROD_DAK_DEMO")).toBe("preproduction");
    expect(stageOfProductTag("TEST_DAK_DEMO")).toBe("test");
    expect(() => stageOfProductTag("DAK_DEMO")).toThrow('unable to determine the stage from the product tag "DAK_DEMO"');
    expect(stageOfProductTag("DAK_DEMO", { testCert: true })).toBe("test");
    // --test_cert does not override a prefix that names a stage.
    expect(stageOfProductTag("RNET_DAK_DEMO", { testCert: true })).toBe("production");
    expect(stageOfProductTag("PREPROD_DAK_DEMO", { testCert: true })).toBe("preproduction");
  });
});
