/**
 * Parsing model and data references. A reference names an artifact where it lives; resolving it
 * (resolve.ts) pins it to an immutable identity. Parsing does no I/O.
 *
 *   https://host/path/model.onnx#sha256=<64 hex>     (http:// too, for mirrors on a private network)
 *   models:/<name>/<version>   models:/<name>@<alias>                       MLflow Model Registry
 *   hf://<owner>/<repo>/<path>@<revision>     (revision: branch, tag or commit; default main)
 *   oci://<registry>/<repository>@sha256:<hex>   oci://<registry>/<repository>:<tag>
 */
import { SslmemError } from "../core/errors.ts";

export type SourceReference =
  | { scheme: "https"; uri: string; url: URL; pin: string | undefined }
  | { scheme: "mlflow"; uri: string; name: string; version: string; alias?: undefined }
  | { scheme: "mlflow"; uri: string; name: string; alias: string; version?: undefined }
  | { scheme: "hf"; uri: string; repo: string; path: string; revision: string }
  | { scheme: "oci"; uri: string; registry: string; repository: string; digest?: string; tag?: string };

const REFERENCE_PREFIX = /^(https?:\/\/|models:\/|hf:\/\/|oci:\/\/)/i;

/** true for anything meant as a reference (as opposed to a blob digest or a local path). */
export function isSourceReference(value: string): boolean {
  return REFERENCE_PREFIX.test(value);
}

function invalid(uri: string, why: string): SslmemError {
  return new SslmemError("source_invalid", `'${shorten(uri)}' is not a valid reference: ${why}`);
}

function shorten(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
// OCI distribution spec: repository name components and tags.
const OCI_REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const OCI_TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const HF_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

export function parseSourceReference(uri: string): SourceReference {
  if (uri.length > 2048) throw invalid(uri, "longer than 2048 characters");
  const lower = uri.toLowerCase();
  if (lower.startsWith("https://") || lower.startsWith("http://")) return parseHttps(uri);
  if (lower.startsWith("models:/")) return parseMlflow(uri);
  if (lower.startsWith("hf://")) return parseHf(uri);
  if (lower.startsWith("oci://")) return parseOci(uri);
  throw invalid(uri, "use https://…#sha256=<hex>, models:/<name>/<version>, models:/<name>@<alias>, hf://<owner>/<repo>/<path>@<revision> or oci://<registry>/<repository>:<tag>");
}

function parseHttps(uri: string): SourceReference {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalid(uri, "not a URL");
  }
  if (url.username || url.password) throw invalid(uri, "credentials in a URL are not accepted; the server's configuration holds them per host");
  let pin: string | undefined;
  if (url.hash) {
    const m = /^#sha256=([0-9a-fA-F]{64})$/.exec(url.hash);
    if (!m) throw invalid(uri, "the fragment must be #sha256=<64 hex digits>");
    pin = `sha256:${m[1].toLowerCase()}`;
  }
  url.hash = "";
  return { scheme: "https", uri, url, pin };
}

function parseMlflow(uri: string): SourceReference {
  const rest = uri.slice("models:/".length);
  const at = rest.lastIndexOf("@");
  if (at > 0) {
    const name = rest.slice(0, at);
    const alias = rest.slice(at + 1);
    if (!/^[A-Za-z0-9_.-]{1,255}$/.test(alias)) throw invalid(uri, "the alias after '@' is empty or has characters other than letters, digits, '_', '.', '-'");
    return { scheme: "mlflow", uri, name: mlflowName(uri, name), alias };
  }
  const slash = rest.lastIndexOf("/");
  const version = rest.slice(slash + 1);
  if (slash <= 0 || !/^[1-9][0-9]{0,9}$/.test(version)) throw invalid(uri, "give models:/<name>/<version number> or models:/<name>@<alias>");
  return { scheme: "mlflow", uri, name: mlflowName(uri, rest.slice(0, slash)), version };
}

function mlflowName(uri: string, name: string): string {
  if (name.length === 0 || name.length > 256 || /[\u0000-\u001f]/.test(name)) throw invalid(uri, "the model name is empty, too long or has control characters");
  return name;
}

function parseHf(uri: string): SourceReference {
  let rest = uri.slice("hf://".length);
  let revision = "main";
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    revision = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,255}$/.test(revision) || revision.includes("..")) throw invalid(uri, "the revision after '@' is not a branch, tag or commit");
  }
  const parts = rest.split("/");
  if (parts.length < 3) throw invalid(uri, "give hf://<owner>/<repo>/<path of the file>@<revision>");
  const [owner, repo, ...file] = parts;
  if (!HF_NAME.test(owner) || !HF_NAME.test(repo)) throw invalid(uri, "the owner or repository name has characters the Hub does not allow");
  if (file.some((p) => p === "" || p === "." || p === "..")) throw invalid(uri, "the file path has empty, '.' or '..' segments");
  return { scheme: "hf", uri, repo: `${owner}/${repo}`, path: file.join("/"), revision };
}

function parseOci(uri: string): SourceReference {
  const rest = uri.slice("oci://".length);
  const slash = rest.indexOf("/");
  if (slash <= 0) throw invalid(uri, "give oci://<registry>/<repository>:<tag> or @sha256:<digest>");
  const registry = rest.slice(0, slash).toLowerCase();
  if (!/^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:]+\](:\d{1,5})?$/.test(registry)) throw invalid(uri, "the registry is not a host[:port]");
  let path = rest.slice(slash + 1);
  let digest: string | undefined;
  let tag: string | undefined;
  const at = path.indexOf("@");
  if (at >= 0) {
    digest = path.slice(at + 1);
    path = path.slice(0, at);
    if (!digest.startsWith("sha256:") || !SHA256_HEX.test(digest.slice(7))) throw invalid(uri, "the digest after '@' must be sha256:<64 lowercase hex>");
  } else {
    const colon = path.lastIndexOf(":");
    if (colon > path.lastIndexOf("/")) {
      tag = path.slice(colon + 1);
      path = path.slice(0, colon);
      if (!OCI_TAG.test(tag)) throw invalid(uri, "the tag has characters OCI does not allow");
    } else tag = "latest";
  }
  if (!OCI_REPOSITORY.test(path)) throw invalid(uri, "the repository name is not a valid OCI repository (lowercase letters, digits, separators)");
  return { scheme: "oci", uri, registry, repository: path, ...(digest ? { digest } : { tag }) };
}
