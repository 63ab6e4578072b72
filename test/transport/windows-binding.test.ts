// The Windows binding's wording of a failed CreateFileW (pure: runs on every platform).
import { describe, expect, test } from "bun:test";
import { openFailure } from "../../src/transport/serial/windows-binding.ts";

describe("openFailure", () => {
  test("ERROR_ACCESS_DENIED (5), what serial.sys answers for a COM port another process has open: one line naming the port", () => {
    const e = openFailure("COM5", 5);
    expect(e.message).toBe("COM5 is in use by another program (another swtool or a terminal); close it or pick another port");
    expect(e.busy).toBe(true);
  });

  test("ERROR_SHARING_VIOLATION (32) reads the same", () => {
    expect(openFailure("\\\\.\\COM12", 32).message).toBe("\\\\.\\COM12 is in use by another program (another swtool or a terminal); close it or pick another port");
  });

  test("any other error (2, no such port) keeps its Windows error number and is not busy", () => {
    const e = openFailure("COM40", 2);
    expect(e.message).toBe("COM40: CreateFileW failed (Windows error 2)");
    expect(e.busy).toBeUndefined();
  });
});
