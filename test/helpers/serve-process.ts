/**
 * A real `sslmem serve` child process (bin/sslmem.js) on 127.0.0.1 with a random port, for tests
 * that kill the process (SIGKILL) or measure it from the outside. The token is created in the
 * SQLite file before the server starts, as an operator would with `sslmem token create`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite-store.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** Everything written to stderr and stdout (JSON log lines and the banner). */
  output: string[];
  /** Resolves with the exit code/signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Creates a token for `tenant` directly in the data directory's database. */
export async function createTokenIn(dataDir: string, tenant: string): Promise<string> {
  const store = await SqliteStore.open({ path: join(dataDir, "sslmem.db") });
  try {
    return (await store.createToken(tenant)).token;
  } finally {
    await store.close();
  }
}

export async function spawnServe(dataDir: string, env: Record<string, string> = {}, timeoutMs = 30_000, nodeArgs: string[] = []): Promise<ServeProcess> {
  mkdirSync(dataDir, { recursive: true });
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, "bin/sslmem.js"), "serve"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      SSLMEM_DATA_DIR: dataDir,
      SSLMEM_PORT: "0",
      SSLMEM_HOST: "127.0.0.1",
      SSLMEM_PROVIDERS: "cpu",
      SSLMEM_THREADS: "1",
      SSLMEM_LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sslmem serve did not start in ${timeoutMs} ms:\n${output.join("")}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString("utf8"));
      const m = /serving on (http:\/\/[^\s]+)/.exec(output.join(""));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stderr!.on("data", onData);
    child.stdout!.on("data", (c: Buffer) => output.push(c.toString("utf8")));
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`sslmem serve exited (${code ?? signal}) before listening:\n${output.join("")}`));
    });
  });
  return {
    url,
    child,
    output,
    exited,
    kill(signal: NodeJS.Signals = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
