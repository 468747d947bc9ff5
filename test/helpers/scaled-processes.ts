/**
 * Real `sslmem serve` and `sslmem worker` child processes (bin/sslmem.js) for the scaled-mode
 * end-to-end test and the scale benchmark: started with an explicit environment, ready when their
 * banner names their URL, killable with any signal.
 */
import { spawn, type ChildProcess } from "node:child_process";

const ROOT = new URL("../..", import.meta.url).pathname;

export interface SslmemProcess {
  /** The API URL (serve) or the health server URL (worker). */
  url: string;
  pid: number;
  child: ChildProcess;
  /** Everything the process wrote (JSON log lines and the banner). */
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const BANNERS = {
  serve: /serving on (http:\/\/\S+)/,
  worker: /health on (http:\/\/[^\s)]+)/,
};

export async function spawnSslmem(command: "serve" | "worker", env: Record<string, string>, timeoutMs = 30_000): Promise<SslmemProcess> {
  const child = spawn(process.execPath, [`${ROOT}bin/sslmem.js`, command], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  child.stdout!.on("data", (c: Buffer) => output.push(c.toString("utf8")));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sslmem ${command} did not start in ${timeoutMs} ms:\n${output.join("")}`)), timeoutMs);
    child.stderr!.on("data", (chunk: Buffer) => {
      output.push(chunk.toString("utf8"));
      const m = BANNERS[command].exec(output.join(""));
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace("//0.0.0.0:", "//127.0.0.1:"));
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`sslmem ${command} exited (${code ?? signal}) before it was ready:\n${output.join("")}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    child,
    output,
    exited,
    kill(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** `sslmem_worker_current_job_seconds` series of a worker's /metrics: what it runs now. */
export function currentJobs(metricsText: string): { kind: string; audit: string; shard: number | null }[] {
  const out: { kind: string; audit: string; shard: number | null }[] = [];
  for (const m of metricsText.matchAll(/^sslmem_worker_current_job_seconds\{kind="(\w+)",audit="([^"]+)",shard="(\d*)"\}/gm)) {
    out.push({ kind: m[1], audit: m[2], shard: m[3] === "" ? null : Number(m[3]) });
  }
  return out;
}

/** The value of an unlabelled or exactly-labelled sample, or undefined. */
export function metricValue(metricsText: string, sample: string): number | undefined {
  for (const line of metricsText.split("\n")) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return undefined;
}
