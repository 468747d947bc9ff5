/**
 * The allocator of a process that runs audit batches. ONNX Runtime's CPU arena is off in the
 * audit's sessions (batch-pipeline.ts: with it ResNet-18 peaked at 2.9 GiB instead of 1.3), so
 * every tensor of a run comes from malloc — and glibc's defaults hand the large ones back to the
 * kernel after the run:
 *
 * - a chunk above the mmap threshold (dynamic, and capped at 32 MiB) is a mapping of its own,
 *   unmapped when freed; a ResNet-18 batch's activations are hundreds of MiB each;
 * - the heap's free top is trimmed back to the kernel once it passes the trim threshold.
 *
 * The next batch faults every one of those pages in again (and the kernel zeroes them): on this
 * project's 2-core virtual machine that made a ResNet-18 `sslmem audit` take 20.2 s instead of
 * 13.8 s (README, "Benchmarks"). With the settings below, freed memory stays in the heap and the
 * next batch reuses it: the heap is the arena, as large as the largest batch's peak.
 *
 * That bound holds because memory.ts plans the batch size from the first batches of the process
 * (a one-point and a two-point probe, before which no larger batch ran: see diagnostics.ts's
 * health sample). It would not hold in a process that runs one audit after another — the heap a
 * finished audit leaves behind hides the next audit's probe — so the service's and the worker's
 * engine processes (jobs/engine-host.ts) keep glibc's defaults, and only `sslmem audit|units|
 * inspect`, one audit per process, start with these settings (bin/sslmem.js relaunches itself:
 * glibc reads GLIBC_TUNABLES only when a process starts). Other C libraries ignore the variable.
 * `SSLMEM_MALLOC_TUNING=off` turns it off; a setting the user already gave in GLIBC_TUNABLES is kept.
 */
import { spawn } from "node:child_process";

/** The tunables, each with its reason (figures in README, "Benchmarks"). */
export const ENGINE_MALLOC_TUNABLES: readonly (readonly [name: string, value: string])[] = [
  // No chunk is a mapping of its own: every tensor comes from the heap, whose freed memory is reused.
  ["glibc.malloc.mmap_max", "0"],
  // Freed memory at the heap's top stays for the next batch (64 GiB: in effect, never trimmed).
  ["glibc.malloc.trim_threshold", String(64 * 2 ** 30)],
];

/** Set in the environment of a process started with the tunables (so that it does not relaunch). */
const MARKER = "SSLMEM_ENGINE_ALLOCATOR";

/** `env` with the engine's tunables added (a name the user set keeps the user's value). */
export function withEngineAllocator(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.SSLMEM_MALLOC_TUNING === "off") return env;
  const given = (env.GLIBC_TUNABLES ?? "").split(":").filter((s) => s.includes("="));
  const names = new Set(given.map((s) => s.slice(0, s.indexOf("="))));
  const added = ENGINE_MALLOC_TUNABLES.filter(([name]) => !names.has(name)).map(([name, value]) => `${name}=${value}`);
  return { ...env, GLIBC_TUNABLES: [...given, ...added].join(":"), [MARKER]: "1" };
}

/** Whether this process was started with the engine's tunables. */
export function hasEngineAllocator(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[MARKER] === "1";
}

/** The CLI commands that run the engine in their own process (the others talk to a server or fork one). */
const ENGINE_COMMANDS = new Set(["audit", "units", "inspect"]);

/**
 * For `bin/sslmem.js`: runs the command again in a child process started with the engine's
 * tunables, and resolves with how it ended — or with undefined when this process should run the
 * command itself (not Linux, turned off, already relaunched, or a command without the engine).
 *
 * The child is its own session (detached), so a terminal's Ctrl-C reaches only this process, which
 * passes each signal on exactly once: the command's "first Ctrl-C stops cleanly, the second quits"
 * keeps its meaning. stdio is the same file descriptors, plus an IPC channel that only tells the
 * child when this process is gone (`followLauncher`).
 */
export function relaunchWithEngineAllocator(args: readonly string[], entry: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined {
  if (process.platform !== "linux" || hasEngineAllocator() || process.env.SSLMEM_MALLOC_TUNING === "off") return undefined;
  if (!ENGINE_COMMANDS.has(args[0] ?? "")) return undefined;
  const child = spawn(process.execPath, [...process.execArgv, entry, ...args], {
    env: withEngineAllocator(process.env),
    stdio: ["inherit", "inherit", "inherit", "ipc"],
    detached: true,
  });
  const forwarded: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const s of forwarded) process.on(s, forward);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      for (const s of forwarded) process.off(s, forward);
      resolve({ code, signal });
    });
  });
}

/**
 * In the relaunched command: ends this process when the launcher is gone (e.g. SIGKILLed, which it
 * cannot pass on), as it would have ended had it been the launcher — a detached child would
 * otherwise run on, orphaned.
 */
export function followLauncher(): void {
  if (!hasEngineAllocator() || !process.channel) return;
  process.channel.unref();
  process.once("disconnect", () => process.kill(process.pid, "SIGKILL"));
}
