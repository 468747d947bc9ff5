/**
 * The one HTTP client of model and data references: a `fetch` (so libraries such as
 * @huggingface/hub take it as their fetch) that
 * - checks the host against the allowlist and the address against the refused ranges on every
 *   hop, following redirects itself (never the platform's automatic redirects);
 * - resolves DNS once per hop and connects to exactly the address it checked (a custom `lookup`
 *   that answers with the checked address), so a DNS answer that changes between the check and
 *   the connection (rebinding) cannot reach a refused address;
 * - adds the configured credential headers for the host of each hop, and drops the caller's own
 *   headers (a registry's bearer token, a hub token) when a redirect leaves the original origin;
 * - gives up on a source that sends nothing for `timeoutMs`.
 * Errors are `source_*` SslmemErrors whose messages carry no query string and no credential.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { Readable } from "node:stream";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import { assertHostAllowed, hostMatches, hostnameOf, type HostPattern, type HostPolicy } from "./host-policy.ts";

export type SourceFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** DNS resolution, injectable so tests can change the answer between two calls. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface CredentialHeader {
  readonly host: HostPattern;
  readonly header: string;
  readonly value: string;
}

export interface GuardedFetchOptions {
  policy: HostPolicy;
  credentials?: readonly CredentialHeader[];
  timeoutMs: number;
  maxRedirects?: number;
  resolve?: Resolver;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

const systemResolver: Resolver = async (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** scheme://host/path — what an error message may show of a URL (queries can hold signed tokens). */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function unreachable(url: URL, why: string, cause?: unknown): SslmemError {
  return new SslmemError("source_unreachable", `cannot fetch ${describeUrl(url)}: ${why}`, { host: url.host }, { cause });
}

export function createGuardedFetch(options: GuardedFetchOptions): SourceFetch {
  const resolve = options.resolve ?? systemResolver;
  const maxRedirects = options.maxRedirects ?? 5;
  const credentials = options.credentials ?? [];

  /** The one address this hop connects to, checked. */
  async function pinAddress(url: URL): Promise<ResolvedAddress> {
    const host = hostnameOf(url);
    let answers: ResolvedAddress[];
    if (isIP(host)) answers = [{ address: host, family: isIP(host) }];
    else {
      try {
        answers = await resolve(host);
      } catch (e) {
        throw unreachable(url, `the host name does not resolve (${(e as NodeJS.ErrnoException).code ?? "DNS error"})`, e);
      }
    }
    if (answers.length === 0) throw unreachable(url, "the host name has no address");
    // Every answer is checked, not only the first: which one a retry would use is not ours to pick.
    for (const a of answers) {
      const why = options.policy.addresses.refusal(a.address);
      if (why !== null) {
        throw new SslmemError("source_not_allowed", `${url.host} resolves to a refused address (${why}); sources are never fetched from there`, {
          host: url.host,
        });
      }
    }
    return answers[0];
  }

  return async function guardedFetch(input, init = {}) {
    let url = new URL(input instanceof Request ? input.url : String(input));
    const firstOrigin = url.origin;
    let method = (init.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    const callerHeaders = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    let body = bodyBytes(init.body);
    url.hash = "";
    for (let hop = 0; ; hop++) {
      assertHostAllowed(options.policy, url);
      const pinned = await pinAddress(url);
      const headers: Record<string, string> = {};
      if (url.origin === firstOrigin) callerHeaders.forEach((v, k) => (headers[k] = v));
      else if (callerHeaders.has("accept")) headers.accept = callerHeaders.get("accept")!;
      for (const c of credentials) if (hostMatches(c.host, url)) headers[c.header.toLowerCase()] = c.value;
      const res = await send(url, pinned, method, headers, body, options.timeoutMs, init.signal ?? undefined);
      const location = res.headers.location;
      if (REDIRECTS.has(res.statusCode ?? 0) && location) {
        res.resume();
        if (hop >= maxRedirects) throw unreachable(url, `more than ${maxRedirects} redirects`);
        const next = new URL(location, url);
        if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === "POST")) {
          method = "GET";
          body = undefined;
        }
        url = next;
        continue;
      }
      return toResponse(res, url);
    }
  };
}

function bodyBytes(body: RequestInit["body"]): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new SslmemError("internal", "source requests carry a string or byte body only");
}

function send(
  url: URL,
  pinned: ResolvedAddress,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<IncomingMessage> {
  // Node calls this instead of DNS: the connection goes to the address that was checked.
  const lookup: LookupFunction = (_hostname, opts, callback) => {
    if (opts.all) (callback as (e: null, a: ResolvedAddress[]) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolvePromise, reject) => {
    const req = request(url, {
      method,
      headers: { ...headers, ...(body ? { "content-length": String(body.length) } : {}) },
      lookup,
      agent: false, // a fresh connection per hop: a pooled socket would skip the address check
      timeout: timeoutMs,
      signal,
    });
    req.on("timeout", () => req.destroy(unreachable(url, `no data for ${timeoutMs} ms`)));
    req.on("error", (e) => reject(isSslmemError(e) ? e : unreachable(url, (e as NodeJS.ErrnoException).code ?? e.message, e)));
    req.on("response", (res) => {
      // The socket's idle timeout keeps running while the body streams: a stalled body fails too.
      res.on("error", () => undefined);
      resolvePromise(res);
    });
    req.end(body);
  });
}

function toResponse(res: IncomingMessage, url: URL): Response {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
  const status = res.statusCode ?? 502;
  const empty = status === 204 || status === 304;
  if (empty) res.resume();
  const body = empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
  const response = new Response(body, { status, statusText: res.statusMessage ?? "", headers });
  // Response.url cannot be passed to the constructor; libraries read it to see where a redirect led.
  Object.defineProperty(response, "url", { value: url.href });
  return response;
}
