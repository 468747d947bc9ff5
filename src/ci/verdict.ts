/**
 * The CLI's exit code as a CI verdict. The CLI decides (src/cli/errors.ts EXIT): 0 the gate
 * passed, 2 it tripped, 3 the audit was inconclusive (nothing could be scored), 1 a tool error.
 * CI integrations only name the outcome; they never re-decide it.
 */
export type CiVerdict = "pass" | "fail" | "inconclusive" | "error";

export function verdictOfExitCode(code: number): CiVerdict {
  switch (code) {
    case 0:
      return "pass";
    case 2:
      return "fail";
    case 3:
      return "inconclusive";
    default:
      return "error";
  }
}

const HEADLINES: Record<CiVerdict, string> = {
  pass: "✅ sslmem gate passed",
  fail: "❌ sslmem gate tripped: too many training images memorized",
  inconclusive: "⚠️ sslmem audit inconclusive: nothing could be scored",
  error: "💥 sslmem could not complete the audit (see the job log)",
};

export function verdictHeadline(verdict: CiVerdict): string {
  return HEADLINES[verdict];
}
