/**
 * Archive member names → point ids. Nothing is ever extracted to disk, but ids travel on (into
 * reports, into tools that may extract later), so any name that could escape a root directory
 * refuses the whole archive rather than being silently rewritten.
 */
import { SslmemError } from "../core/errors.ts";
import { quoteId } from "./point-id.ts";

export interface MemberPath {
  /** POSIX path relative to the archive's root, without "." or empty segments. */
  readonly id: string;
  /** The name denotes a folder (trailing slash, or nothing left after normalization). */
  readonly isDirectory: boolean;
}

export function normalizeMemberPath(name: string): MemberPath {
  const unsafe = (why: string) =>
    new SslmemError("archive_unsafe", `archive member ${quoteId(name)} ${why}; the archive is refused`, {
      member: name,
    });
  if (name.includes("\0")) throw unsafe("contains a NUL character");
  // Windows tools write backslashes; treat them as separators so "..\\x" is caught too.
  const slashed = name.replace(/\\/g, "/");
  if (slashed.startsWith("/")) throw unsafe("has an absolute path");
  if (/^[A-Za-z]:/.test(slashed)) throw unsafe("has a drive-letter path");
  const segments = slashed.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) throw unsafe('has a ".." segment that leaves the archive root');
  return { id: segments.join("/"), isDirectory: segments.length === 0 || slashed.endsWith("/") };
}
