/**
 * Ctrl-C in a long command: the first SIGINT aborts the work cleanly (the command stops at the next
 * batch, keeps what the checkpoint holds, prints a message and exits 130); a second one exits at
 * once. Without this, Node would end the process silently.
 */
import { EXIT } from "./errors.ts";

export interface Interrupt {
  readonly signal: AbortSignal;
  readonly interrupted: boolean;
  dispose(): void;
}

export function onInterrupt(stderr: NodeJS.WritableStream = process.stderr): Interrupt {
  const controller = new AbortController();
  let count = 0;
  const handler = () => {
    count++;
    if (count === 1) {
      stderr.write("\nsslmem: interrupted (Ctrl-C): stopping after the current batch; press Ctrl-C again to quit at once\n");
      controller.abort();
      return;
    }
    stderr.write("sslmem: interrupted again: quitting now (exit 130)\n");
    process.exit(EXIT.interrupted);
  };
  process.on("SIGINT", handler);
  return {
    signal: controller.signal,
    get interrupted() {
      return count > 0;
    },
    dispose() {
      process.off("SIGINT", handler);
    },
  };
}
