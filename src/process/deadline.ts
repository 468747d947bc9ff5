/**
 * The one way this code waits for something with a time limit (a grace period, a probe, a stalled
 * body, a connection): a race against a timer that is cleared whichever side wins, so no timer
 * outlives the wait or keeps the process alive.
 */

export type DeadlineOutcome<T> = { inTime: true; value: T } | { inTime: false };

/** `work`'s value if it settles within `ms`; a rejection within `ms` rejects. */
export async function withinDeadline<T>(work: PromiseLike<T>, ms: number): Promise<DeadlineOutcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<DeadlineOutcome<T>>((resolve) => (timer = setTimeout(() => resolve({ inTime: false }), Math.max(0, ms))));
  try {
    return await Promise.race([Promise.resolve(work).then((value): DeadlineOutcome<T> => ({ inTime: true, value })), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** true when `work` fulfilled within `ms` (nothing to wait for counts as in time). */
export async function settledWithin(work: PromiseLike<unknown> | undefined, ms: number): Promise<boolean> {
  if (!work) return true;
  return (await withinDeadline(work, ms)).inTime;
}

/** `work`'s value, or a rejection with `timedOut()` when it takes longer than `ms`. */
export async function orTimeout<T>(work: PromiseLike<T>, ms: number, timedOut: () => Error): Promise<T> {
  const outcome = await withinDeadline(work, ms);
  if (!outcome.inTime) throw timedOut();
  return outcome.value;
}
