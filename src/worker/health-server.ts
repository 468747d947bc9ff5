/**
 * The health routes of an `sslmem worker`: /livez (the process answers), /readyz (store reachable,
 * Redis connected and the worker taking jobs, not shutting down) and /metrics. Plain node:http:
 * three fixed routes, no API, nothing to authenticate (it reveals audit ids only).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { SslmemError } from "../core/errors.ts";
import type { ShardWorker } from "../jobs/shard-worker.ts";
import { conditionProbe, runProbes, storeProbe, type Probe } from "../process/health.ts";
import type { StoreHealth } from "../store/types.ts";
import { renderWorkerMetrics } from "./worker-metrics.ts";

export interface WorkerHealthServer {
  url: string;
  close(): Promise<void>;
}

/** A request handler of node:http. */
export type HealthHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function workerProbes(worker: Pick<ShardWorker, "isReady">, store: StoreHealth): Probe[] {
  return [conditionProbe("worker", true, () => worker.isReady(), "not connected to the queue, or shutting down"), storeProbe(store)];
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" }).end(body);
}

/** The three routes, as a handler: what the worker app serves (tests can call it without a port). */
export function workerHealthRoutes(worker: ShardWorker, store: StoreHealth, logger: Logger): HealthHandler {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "application/json", JSON.stringify({ status: "fail" }));
    if (path === "/livez") {
      const alive = worker.isAlive();
      return send(res, alive ? 200 : 503, "application/json", JSON.stringify({ status: alive ? "pass" : "fail" }));
    }
    if (path === "/readyz") {
      const readiness = await runProbes(workerProbes(worker, store), logger);
      return send(res, readiness.status === "pass" ? 200 : 503, "application/json", JSON.stringify(readiness));
    }
    if (path === "/metrics") return send(res, 200, "text/plain; version=0.0.4; charset=utf-8", renderWorkerMetrics(worker.stats()));
    return send(res, 404, "application/json", JSON.stringify({ status: "fail", detail: "routes: /livez /readyz /metrics" }));
  };
  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err }, "health server error");
      if (!res.headersSent) send(res, 500, "application/json", JSON.stringify({ status: "fail" }));
    });
  };
}

/** Serves `handler` on host:port (the worker process's part). */
export async function listenHealth(handler: HealthHandler, host: string, port: number): Promise<WorkerHealthServer> {
  const server = createServer(handler);
  const address = await new Promise<AddressInfo>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new SslmemError("unavailable", `cannot listen on ${host}:${port} (${err.code ?? "error"}); check SSLMEM_WORKER_HEALTH_PORT`)),
    );
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
