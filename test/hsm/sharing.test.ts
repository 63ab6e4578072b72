// Sharing one HSM's 16 sessions: a failed authentication keeps its slot on the device for the
// 30 s idle timeout, as on a real YubiHSM 2 (the simulator models it), so a client retrying a
// wrong PIN can fill the HSM for every line PC; the pool therefore opens no session for 30 s
// after a rejected PIN. (The pool's SESSIONS_FULL waiting: pool tests.)
import { describe, expect, test } from "bun:test";
import { echo } from "../../src/hsm/commands/echo.ts";
import { HsmPinRejectedError, isDeviceError } from "../../src/hsm/errors.ts";
import { SessionPool } from "../../src/hsm/pool.ts";
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

describe("a session pool after a rejected PIN", () => {
  test("opens no session for the slot's hold time: ten signatures' worth of calls fail at once with the one error, the HSM keeps 15 slots free; after it, one new try", async () => {
    const sim = await startHsmSimulator({ listen: "127.0.0.1:0" });
    const pool = new SessionPool(new Connector({ url: sim.url }), 1, deriveAuthKey("not-the-pin"), 4);
    // The line rides out outages; a rejected PIN is not one, and must not be retried per call either.
    pool.patient = true;
    const errors = [];
    for (let i = 0; i < 10; i++) errors.push(await pool.use((s) => s.send(echo, new Uint8Array([i]))).catch((e) => e));
    expect(errors.every((e) => e instanceof HsmPinRejectedError && e.message === "the HSM rejected the PIN for authentication key slot 1")).toBe(true);
    expect(sim.device.sessions.inUse).toBe(1);
    expect(16 - sim.device.sessions.inUse).toBe(15);
    // Once the device has let go of the slot (here: a hold time shortened for the test), the pool tries again, once.
    pool.pinHoldMs = 0;
    await expect(pool.use((s) => s.send(echo, new Uint8Array([1])))).rejects.toBeInstanceOf(HsmPinRejectedError);
    expect(sim.device.sessions.inUse).toBe(2);
    await pool.close();
    await sim.stop();
  });

  test("calls waiting for the pool's one session while its open fails are not left waiting: each ends with the error", async () => {
    const sim = await startHsmSimulator({ listen: "127.0.0.1:0" });
    // A pool of one session (limit 1): the second call waits for the first's session, which never opens.
    const pool = new SessionPool(new Connector({ url: sim.url }), 1, deriveAuthKey("not-the-pin"), 1);
    const calls = [0, 1, 2].map((i) => pool.use((s) => s.send(echo, new Uint8Array([i]))).then(() => "ok", (e) => (e as Error).message));
    const outcome = await Promise.race([Promise.all(calls), Bun.sleep(5000).then(() => "still waiting")]);
    expect(outcome).toEqual(Array(3).fill("the HSM rejected the PIN for authentication key slot 1"));
    await pool.close();
    await sim.stop();
  });
});
