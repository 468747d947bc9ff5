/**
 * Which hosts and addresses the service may fetch from (server-side request forgery defence).
 *
 * Two independent checks, both applied on every hop (redirects included):
 * - the host (and port) must match the allowlist (`SSLMEM_SOURCE_ALLOW`); the CLI's local mode has
 *   no allowlist, the user fetches for themself;
 * - the address the connection goes to must not be unspecified, link-local (which holds the cloud
 *   metadata endpoints), multicast or broadcast, unless the operator exempted its range. This one
 *   applies in the CLI too: nobody means to audit a model served by 169.254.169.254.
 */
import { BlockList, isIP } from "node:net";
import { SslmemError } from "../core/errors.ts";

export interface HostPattern {
  /** Lowercase host; `*.example.com` matches subdomains only. */
  readonly host: string;
  /** A port, or undefined for the scheme's default port only, or "*" for any port. */
  readonly port: number | "*" | undefined;
}

export function parseHostPattern(text: string): HostPattern {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}|\*))?$/.exec(text.trim().toLowerCase());
  if (!m) throw new SslmemError("invalid_config", `'${text}' is not a host pattern (host, *.domain, host:port or host:*)`);
  const port = m[2] === undefined ? undefined : m[2] === "*" ? "*" : Number(m[2]);
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}

function defaultPort(protocol: string): number {
  return protocol === "https:" ? 443 : 80;
}

/** The URL's port as a number (the scheme's default when absent). */
export function portOf(url: URL): number {
  return url.port === "" ? defaultPort(url.protocol) : Number(url.port);
}

/** The URL's host without IPv6 brackets, lowercase. */
export function hostnameOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
}

export function hostMatches(pattern: HostPattern, url: URL): boolean {
  const host = hostnameOf(url);
  const hostOk = pattern.host.startsWith("*.") ? host.endsWith(pattern.host.slice(1)) && host.length > pattern.host.length - 1 : host === pattern.host;
  if (!hostOk) return false;
  if (pattern.port === "*") return true;
  return portOf(url) === (pattern.port ?? defaultPort(url.protocol));
}

/**
 * Ranges no fetch may reach unless exempted. Link-local covers 169.254.169.254 (AWS, GCP, Azure,
 * OpenStack metadata) and fe80::/10; the others are cloud metadata addresses outside it.
 */
const REFUSED_RANGES: readonly { net: string; prefix: number; why: string }[] = [
  { net: "0.0.0.0", prefix: 8, why: "unspecified" },
  { net: "169.254.0.0", prefix: 16, why: "link-local (cloud metadata)" },
  { net: "100.100.100.200", prefix: 32, why: "cloud metadata" },
  { net: "192.0.0.192", prefix: 32, why: "cloud metadata" },
  { net: "224.0.0.0", prefix: 4, why: "multicast" },
  { net: "255.255.255.255", prefix: 32, why: "broadcast" },
  { net: "::", prefix: 128, why: "unspecified" },
  { net: "fe80::", prefix: 10, why: "link-local" },
  { net: "fd00:ec2::254", prefix: 128, why: "cloud metadata" },
  { net: "ff00::", prefix: 8, why: "multicast" },
];

export class AddressPolicy {
  readonly #exempt = new BlockList();

  constructor(exemptCidrs: readonly string[] = []) {
    for (const cidr of exemptCidrs) {
      const [net, prefix] = cidr.split("/");
      const family = isIP(net);
      if (family === 0) throw new SslmemError("invalid_config", `'${cidr}' is not a CIDR range`);
      this.#exempt.addSubnet(net, Number(prefix), family === 6 ? "ipv6" : "ipv4");
    }
  }

  /** Why the address is refused, or null when it may be connected to. */
  refusal(address: string): string | null {
    const v4 = unmapV4(address);
    const family = isIP(v4);
    if (family === 0) return "not an IP address";
    const type = family === 6 ? "ipv6" : "ipv4";
    if (this.#exempt.check(v4, type)) return null;
    for (const range of REFUSED_RANGES) {
      const rangeFamily = isIP(range.net) === 6 ? "ipv6" : "ipv4";
      if (rangeFamily !== type) continue;
      const one = new BlockList();
      one.addSubnet(range.net, range.prefix, rangeFamily);
      if (one.check(v4, type)) return range.why;
    }
    return null;
  }
}

/** `::ffff:169.254.169.254` (also written `::ffff:a9fe:a9fe`) is 169.254.169.254: check the IPv4 address it maps. */
function unmapV4(address: string): string {
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (dotted) return dotted[1];
  const hex = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return address;
  const hi = parseInt(hex[1], 16);
  const lo = parseInt(hex[2], 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

export interface HostPolicy {
  /** null: any host (the CLI's local mode); otherwise the allowlist. */
  readonly allow: readonly HostPattern[] | null;
  readonly addresses: AddressPolicy;
}

/** Throws `source_not_allowed` when the URL's host is not on the allowlist. */
export function assertHostAllowed(policy: HostPolicy, url: URL): void {
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new SslmemError("source_not_allowed", `${url.protocol.replace(/:$/, "")} URLs are not fetched; use https`);
  }
  if (policy.allow === null) return;
  if (!policy.allow.some((p) => hostMatches(p, url))) {
    throw new SslmemError(
      "source_not_allowed",
      `the host ${url.host} is not on this server's source allowlist (SSLMEM_SOURCE_ALLOW); ask the operator to add it`,
      { host: url.host },
    );
  }
}
