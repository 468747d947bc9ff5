/**
 * Caps the uploads one tenant has in flight (SSLMEM_MAX_CONCURRENT_UPLOADS_PER_TENANT): each one
 * holds a file handle, a hash and disk bandwidth, and one tenant must not starve the others.
 */
export class UploadSlots {
  readonly #max: number;
  readonly #inFlight = new Map<string, number>();

  constructor(maxPerTenant: number) {
    this.#max = maxPerTenant;
  }

  /** A release function, or null when the tenant is at its limit. Release is idempotent. */
  tryAcquire(tenant: string): (() => void) | null {
    const n = this.#inFlight.get(tenant) ?? 0;
    if (n >= this.#max) return null;
    this.#inFlight.set(tenant, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#inFlight.get(tenant) ?? 1) - 1;
      if (left <= 0) this.#inFlight.delete(tenant);
      else this.#inFlight.set(tenant, left);
    };
  }

  inFlight(tenant: string): number {
    return this.#inFlight.get(tenant) ?? 0;
  }
}
