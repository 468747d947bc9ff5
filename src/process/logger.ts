import { pino, type Logger } from "pino";
import type { Config } from "../config.ts";

/** The process's logger (JSON lines on stdout), for the API server and `sslmem worker` alike. */
export function createLogger(config: Pick<Config, "logLevel">): Logger {
  return pino({ level: config.logLevel, base: { service: "sslmem" } });
}
