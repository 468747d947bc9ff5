/**
 * The order in which the embedded runner takes audits: round-robin between tenants, FIFO within
 * a tenant. The next audit belongs to the tenant served least recently among those waiting, so
 * one tenant's hundred audits do not run before another tenant's one. (The queue's truth stays in
 * the store; this is only the order.)
 */
export class FairQueue {
  /** Waiting audits in arrival order, with their tenant. */
  readonly #waiting: { auditId: string; tenant: string }[] = [];
  /** Tenant → turn of its last start (higher = served more recently). */
  readonly #lastServed = new Map<string, number>();
  #turn = 0;

  get length(): number {
    return this.#waiting.length;
  }

  has(auditId: string): boolean {
    return this.#waiting.some((w) => w.auditId === auditId);
  }

  push(auditId: string, tenant: string): void {
    if (!this.has(auditId)) this.#waiting.push({ auditId, tenant });
  }

  /** Removes a waiting audit; false when it was not waiting. */
  remove(auditId: string): boolean {
    const i = this.#waiting.findIndex((w) => w.auditId === auditId);
    if (i < 0) return false;
    this.#waiting.splice(i, 1);
    return true;
  }

  clear(): void {
    this.#waiting.length = 0;
  }

  /** Takes the next audit: the oldest of the tenant served least recently (never served first). */
  shift(): string | undefined {
    let best = -1;
    let bestTurn = Infinity;
    for (let i = 0; i < this.#waiting.length; i++) {
      const turn = this.#lastServed.get(this.#waiting[i].tenant) ?? -1;
      if (turn < bestTurn) {
        best = i;
        bestTurn = turn;
      }
    }
    if (best < 0) return undefined;
    const [next] = this.#waiting.splice(best, 1);
    this.#lastServed.set(next.tenant, this.#turn++);
    return next.auditId;
  }
}
