// Sharing one HSM's 16 sessions: a failed authentication keeps its slot on the device for the
// 30 s idle timeout, as on a real YubiHSM 2 (the simulator models it), so a client retrying a
// wrong PIN can fill the HSM for every line PC. (The pool's SESSIONS_FULL waiting: pool tests.)
import { describe, expect, test } from "bun:test";
import { isDeviceError } from "../../src/hsm/errors.ts";
import { deriveAuthKey } from "../../src/hsm/secure-channel.ts";
import { HsmSession } from "../../src/hsm/session.ts";
import { startHsmSimulator } from "../../src/hsm/index.ts";
import { Connector } from "../../src/hsm/transport.ts";

const FACTORY_KEY = deriveAuthKey("password");

describe("a failed authentication's slot", () => {
  test("stays taken until the idle timeout: 16 wrong PINs fill the device, the slots free after it", async () => {
    const sim = await startHsmSimulator({ listen: "127.0.0.1:0", idleTimeoutMs: 400 });
    const connector = new Connector({ url: sim.url });
    const wrong = deriveAuthKey("not-the-pin");
    for (let i = 0; i < 16; i++) await expect(HsmSession.open(connector, 1, wrong)).rejects.toThrow(/rejected the PIN/);
    await Bun.sleep(50);
    const refused = await HsmSession.open(connector, 1, FACTORY_KEY).catch((e) => e);
    expect(isDeviceError(refused, "SESSIONS_FULL")).toBe(true);
    expect(sim.device.sessions.inUse).toBe(16);
    await Bun.sleep(500);
    const s = await HsmSession.open(connector, 1, FACTORY_KEY);
    expect(s.usable).toBe(true);
    await s.close();
    await sim.stop();
  });
});
