/**
 * Progress output for long commands: a redrawn bar on a TTY, plain lines otherwise (CI logs),
 * nothing when quiet. Written to stderr so stdout carries only the report.
 */
export interface ProgressSink {
  update(stage: string, done: number, total: number): void;
  done(message?: string): void;
}

export function createProgress(opts: { quiet: boolean; stream?: NodeJS.WriteStream }): ProgressSink {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) return { update() {}, done() {} };
  const started = Date.now();
  if (stream.isTTY) {
    let lastDraw = 0;
    return {
      update(stage, done, total) {
        const now = Date.now();
        if (now - lastDraw < 100 && done < total) return;
        lastDraw = now;
        const width = 30;
        const frac = total > 0 ? Math.min(1, done / total) : 0;
        const filled = Math.round(frac * width);
        const elapsed = (now - started) / 1000;
        const eta = done > 0 && done < total ? ` eta ${Math.round((elapsed / done) * (total - done))}s` : "";
        stream.write(`\r\x1b[2K${stage.padEnd(10)} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total}${eta}`);
      },
      done(message) {
        stream.write(`\r\x1b[2K${message ?? ""}${message ? "\n" : ""}`);
      },
    };
  }
  let lastPct = -1;
  let lastStage = "";
  return {
    update(stage, done, total) {
      const pct = total > 0 ? Math.floor((done / total) * 10) * 10 : 0;
      if (stage === lastStage && pct === lastPct) return;
      lastStage = stage;
      lastPct = pct;
      stream.write(`${stage}: ${done}/${total} (${pct}%)\n`);
    },
    done(message) {
      if (message) stream.write(`${message}\n`);
    },
  };
}
