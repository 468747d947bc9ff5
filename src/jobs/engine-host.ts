/**
 * One engine process (engine-worker.ts) seen from the service: started with a JS-heap limit,
 * watched for its resident memory, ended with SIGKILL, and — when it ends — told apart: killed
 * on purpose (why), out of memory (the heap limit, the watchdog or the kernel's OOM killer), or
 * crashed. Only this module signals the engine process.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { FromWorker, ToWorker } from "./engine-worker-protocol.ts";

export interface EngineProcessLimits {
  /** Resident memory (RSS) of the engine process above which it is killed (`resource_exhausted`). */
  memoryBytes: number;
  /** V8 old-space limit of the engine process (--max-old-space-size), MiB. */
  heapMiB: number;
  /** How often the resident size is read from /proc. */
  watchIntervalMs: number;
}

/** Why the process ended: as the service asked (`kill(reason)`), or on its own. */
export type EngineExit =
  | { kind: "killed"; reason: KillReason }
  /**
   * `heap`: V8 reported its heap limit. `system`: a SIGKILL nobody here sent — on Linux usually
   * the kernel's OOM killer, but an operator's `kill -9` looks the same.
   */
  | { kind: "out_of_memory"; by: "heap" | "system"; detail: string }
  | { kind: "crashed"; detail: string };

export type KillReason = "memory" | "deadline" | "abort" | "shutdown" | "idle";

// Compiled (dist/), the engine process runs engine-worker.js as it is. From the TypeScript sources
// (tests, under tsx), engine-worker-boot.js registers tsx in the engine process first.
const ENTRY = import.meta.url.endsWith(".ts") ? new URL("./engine-worker-boot.js", import.meta.url) : new URL("./engine-worker.js", import.meta.url);
/** What V8 prints when the heap limit is reached (the process then aborts). */
const HEAP_OOM = /heap out of memory|Reached heap limit|Allocation failed/i;

/** The resident size of a process from /proc (Linux); undefined elsewhere or once it is gone. */
export function residentBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

export class EngineProcess {
  readonly #child: ChildProcess;
  readonly #logger: Logger;
  readonly #watch: NodeJS.Timeout;
  #killedFor: KillReason | undefined;
  /** The tail of the process's stderr: V8's out-of-memory report lands there. */
  #stderrTail = "";
  #peakResident = 0;
  readonly exited: Promise<EngineExit>;

  constructor(limits: EngineProcessLimits, logger: Logger, onMessage: (message: FromWorker) => void) {
    this.#logger = logger;
    this.#child = fork(ENTRY, [], {
      // Not the service's own flags (e.g. --test, --inspect): the engine gets only its heap limit.
      execArgv: [`--max-old-space-size=${limits.heapMiB}`],
      serialization: "advanced",
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    this.#child.stderr?.setEncoding("utf8");
    this.#child.stderr?.on("data", (chunk: string) => {
      this.#stderrTail = (this.#stderrTail + chunk).slice(-4096);
    });
    this.#child.on("message", (m: FromWorker) => onMessage(m));
    // The IPC channel must not keep the service alive; a running audit is awaited by the runner.
    this.#child.unref();
    this.#child.channel?.unref();
    this.exited = new Promise<EngineExit>((resolve) => {
      this.#child.once("exit", (code, signal) => {
        clearInterval(this.#watch);
        resolve(this.#classify(code, signal));
      });
    });
    this.#watch = setInterval(() => this.#checkMemory(limits.memoryBytes), limits.watchIntervalMs);
    this.#watch.unref();
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Highest resident size the watchdog saw, in bytes. */
  get peakResidentBytes(): number {
    return this.#peakResident;
  }

  /** Running and not being killed: a process told to die takes no more work. */
  get alive(): boolean {
    return this.#killedFor === undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  send(message: ToWorker): void {
    if (this.alive && this.#child.connected) this.#child.send(message);
  }

  /** Ends the process at once (SIGKILL: ONNX Runtime cannot be interrupted otherwise). */
  kill(reason: KillReason): void {
    if (this.#killedFor !== undefined || this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#killedFor ??= reason;
    // Held until its exit arrives, so that whoever awaits `exited` is not left behind by an idle loop.
    this.#child.ref();
    this.#child.kill("SIGKILL");
  }

  #checkMemory(ceiling: number): void {
    const pid = this.#child.pid;
    if (pid === undefined || !this.alive) return;
    const rss = residentBytes(pid);
    if (rss === undefined) return;
    this.#peakResident = Math.max(this.#peakResident, rss);
    if (rss > ceiling) {
      this.#logger.warn({ residentMiB: Math.round(rss / 2 ** 20), ceilingMiB: Math.round(ceiling / 2 ** 20) }, "engine process over its memory ceiling; ending it");
      this.kill("memory");
    }
  }

  #classify(code: number | null, signal: NodeJS.Signals | null): EngineExit {
    if (this.#killedFor !== undefined) return { kind: "killed", reason: this.#killedFor };
    if (HEAP_OOM.test(this.#stderrTail)) return { kind: "out_of_memory", by: "heap", detail: "the engine process reached its heap limit" };
    // Nobody here sent SIGKILL: on Linux that is the kernel's OOM killer.
    if (signal === "SIGKILL") return { kind: "out_of_memory", by: "system", detail: "the engine process was killed by the system (out of memory)" };
    return { kind: "crashed", detail: signal ? `the engine process ended by ${signal}` : `the engine process exited (code ${code})` };
  }
}
