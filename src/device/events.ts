// What the station tells the outside world while it runs: one event per thing that happened,
// the same objects the operator view draws, `--json` prints (schema.ts) and hooks receive.
import type { SignerState } from "../sidewalk/signer.ts";
import type { WaitingFor } from "./fixture.ts";
import type { BoardState, Step } from "./flow.ts";

export type LineEvent =
  | { type: "port-open"; port: string }
  | { type: "waiting"; port: string; for: WaitingFor; text: string }
  | { type: "device-start"; port: string; dsn: string; smsn: string }
  | { type: "step"; port: string; dsn: string; step: Step }
  | {
      type: "device-done";
      port: string;
      dsn: string;
      smsn: string;
      controlLog: string;
      seconds: number;
      retries: number;
      restarts: number;
      wastedSignatures: number;
      provisioned: number;
      failed: number;
      /** DAK signatures this station has made so far, and the DAK's total in the ledger. */
      signatures: number;
      dakUsed: number;
      deinitError?: string;
    }
  | {
      type: "device-failed";
      port: string;
      dsn: string;
      smsn: string;
      step: Step;
      error: string;
      advice?: string;
      code?: number;
      codeName?: string;
      deviceAnswer?: string[];
      board: BoardState;
      action: string;
      wastedSignatures: number;
      provisioned: number;
      failed: number;
      signatures: number;
      dakUsed: number;
    }
  | { type: "refused"; port: string; dsn: string; smsn: string; reason: string }
  | { type: "hsm"; state: SignerState; since?: string; message: string }
  | { type: "stopping"; reason: StopReason; inFlight: number; message: string }
  | { type: "station-error"; port: string; dsn: string; message: string; action: string; recover: string }
  | { type: "fixture-stopped"; port: string; failures: number; last: string; message: string }
  | { type: "warning"; message: string }
  | { type: "port-closed"; port: string; error?: string };

export type StopReason = "count" | "signal" | "abort" | "dsn-source" | "ports" | "io-error" | "failures" | "hsm-pin";

export interface FailedDevice {
  port: string;
  dsn: string;
  smsn: string;
  step: Step;
  error: string;
  action: string;
}

export interface PortTotals {
  provisioned: number;
  failed: number;
  /** Why the fixture stopped on its own (boards failed in a row). */
  stopped?: string;
}

export interface LineSummary {
  provisioned: number;
  failed: number;
  refused: number;
  /** DAK signatures made, and those a reboot threw away. */
  signatures: number;
  wastedSignatures: number;
  /** The DAK's signatures in the ledger over every run. */
  dakUsed: number;
  seconds: number;
  /** Good devices per hour over the run. */
  devicesPerHour: number;
  stoppedBy: StopReason;
  perPort: Record<string, PortTotals>;
  /** Every device that failed, with its step and what to do with the board. */
  failures: FailedDevice[];
}
