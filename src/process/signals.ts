/**
 * The one place a process waits for SIGTERM / SIGINT. The API server (server.ts) and the worker
 * (worker/worker-process.ts) each react to the first signal by running their teardown.
 */

/** Calls `onSignal` once, on the first SIGTERM or SIGINT; returns a function that stops listening. */
export function onShutdownSignal(onSignal: (signal: NodeJS.Signals) => void): () => void {
  const handler = (signal: NodeJS.Signals) => {
    stop();
    onSignal(signal);
  };
  const stop = () => {
    process.off("SIGTERM", handler).off("SIGINT", handler);
  };
  process.on("SIGTERM", handler).on("SIGINT", handler);
  return stop;
}
