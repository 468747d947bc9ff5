/**
 * Exit codes of every sslmem command (trivy/grype convention), defined here and nowhere else:
 *
 *   0  passed: the audit ran and no gate tripped (or no gate was set)
 *   1  tool error: bad input, unreadable file, server error — the message says what to fix
 *   2  gate tripped: the audit found what a gate fails on (evidence, too many flags)
 *   3  inconclusive: the audit ran but cannot answer the gate's question reliably (no controls for
 *      --gate evidence, uncalibrated flags with --require-calibrated, encoder health warnings with
 *      --strict)
 *   130 interrupted (Ctrl-C / SIGINT), after saying so
 */
export const EXIT = {
  ok: 0,
  error: 1,
  gateTripped: 2,
  inconclusive: 3,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit-code table as help text, shared by every command's --help. */
export const EXIT_CODES_HELP = "Exit codes: 0 passed, 2 gate tripped, 3 inconclusive (the gate's question cannot be answered reliably), 1 error, 130 interrupted.";

/** A usage error raised while parsing flags; printed as one line, exit 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
