/** What /proc says about a process (Linux): its CPU time, and whether it is still alive. */
import { readFileSync } from "node:fs";

/** CPU time (user + system) a process has used, in clock ticks; undefined once it is gone or a zombie. */
export function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") return undefined;
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

export const alive = (pid: number): boolean => cpuTicks(pid) !== undefined;
