/** Exit codes of every sslmem command (trivy/grype convention). */
export const EXIT = {
  ok: 0,
  /** a tool error: bad input, unreadable file, server error — the message says what to fix */
  error: 1,
  /** the gate tripped: more flagged points than --fail-on-flagged allows */
  gateTripped: 2,
} as const;

/** A usage error raised while parsing flags; printed as one line, exit 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
