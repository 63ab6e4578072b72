// `--hsm-config FILE` and repeated `--connector`: each HSM's URL, TLS files and PIN source; a
// PIN written in the file is refused; paths are relative to the file.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectorUrls, readHsmConfig } from "../../src/cli/hsm-config.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const dir = () => scratchDir("hsmcfg");

describe("HSM config file", () => {
  test("each HSM with its own TLS files and PIN source, relative paths from the file's folder", async () => {
    const d = dir();
    writeFileSync(join(d, "hsm1.pin"), "pin-one\n");
    process.env.SWTOOL_TEST_HSM2_PIN = "pin-two";
    writeFileSync(
      join(d, "hsms.json"),
      JSON.stringify({
        sessions: 3,
        hsms: [
          { connector: "https://signing:8081", caCert: "ca.pem", clientCert: "client.pem", clientKey: "/etc/k.key", pinFile: "hsm1.pin" },
          { connector: "https://signing:8082", name: "HSM-B", pinEnv: "SWTOOL_TEST_HSM2_PIN", pinSlot: 5 },
        ],
      }),
    );
    const config = await readHsmConfig(join(d, "hsms.json"), {});
    expect(config).toEqual({
      sessions: 3,
      endpoints: [
        { connector: "https://signing:8081", pin: "pin-one", tls: { ca: join(d, "ca.pem"), cert: join(d, "client.pem"), key: "/etc/k.key" } },
        { connector: "https://signing:8082", pin: "pin-two", tls: {}, name: "HSM-B", pinSlot: 5 },
      ],
    });
  });

  test("refusals name the file, the entry and the fix", async () => {
    const d = dir();
    const write = (o: unknown) => (writeFileSync(join(d, "c.json"), JSON.stringify(o)), join(d, "c.json"));
    await expect(readHsmConfig(write({ hsms: [{ connector: "http://x", pin: "1234" }] }), {})).rejects.toThrow(`${join(d, "c.json")}: hsms[0].pin: a PIN must not be written in the config file`);
    await expect(readHsmConfig(write({ hsms: [] }), {})).rejects.toThrow(/"hsms" must list at least one HSM/);
    await expect(readHsmConfig(write({ hsms: [{ url: "http://x" }] }), {})).rejects.toThrow(/hsms\[0\]\.url is not known/);
    await expect(readHsmConfig(write({ hsms: [{ connector: "http://x", pinFile: "a", pinEnv: "B" }] }), {})).rejects.toThrow(/gives both pinFile and pinEnv/);
    await expect(readHsmConfig(write({ sessions: 17, hsms: [{ connector: "http://x" }] }), {})).rejects.toThrow(/"sessions" must be a whole number from 1 to 16/);
    await expect(readHsmConfig(join(d, "missing.json"), {})).rejects.toThrow(/cannot read the HSM config/);
  });

  test("--connector repeated, in any spelling", () => {
    expect(connectorUrls(["sign", "-c", "http://a", "--connector", "http://b", "--connector=http://c", "--", "-c", "x"])).toEqual(["http://a", "http://b", "http://c"]);
  });
});
