// Error types shared by every layer. An operator sees `message` and `advice`, never a stack;
// `exitCode` follows the documented contract (1 operation failed, 2 usage error).

export interface ErrorDetails {
  /** What the operator should do about it. */
  advice?: string;
  cause?: unknown;
}

export class SwtoolError extends Error {
  readonly advice?: string;
  readonly exitCode: number = 1;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    if (details.advice) this.advice = details.advice;
  }
}

/**
 * A secret (PIN, password) the other side refused. Trying again with the same one cannot
 * succeed, and each try may cost something (an HSM holds a failed authentication's slot 30 s).
 */
export class CredentialsRejectedError extends SwtoolError {}

/** Wrong command line: exit code 2. */
export class UsageError extends SwtoolError {
  override readonly exitCode = 2;
}

/** Bytes or text that do not have the expected format (truncated, bad base64, wrong length). */
export class FormatError extends SwtoolError {}

/** A signature, chain or key that does not verify. */
export class VerificationError extends SwtoolError {}
