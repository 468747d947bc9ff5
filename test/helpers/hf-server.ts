/**
 * A local server implementing the Hugging Face Hub routes @huggingface/hub uses to read a file:
 *   GET /api/models/{owner}/{repo}/revision/{revision}   model info with the commit `sha`
 *   GET /{owner}/{repo}/resolve/{revision}/{path}        the file; LFS files redirect to a CDN path
 *                                                        whose ETag is the content's sha256
 * with the Hub's error headers (X-Error-Code: RepoNotFound, RevisionNotFound, EntryNotFound).
 */
import { createHash } from "node:crypto";
import { localServer, type LocalServer } from "./sources.ts";

export interface HfRepo {
  /** branch or tag → commit sha (40 hex) */
  refs: Record<string, string>;
  /** commit sha → path → bytes */
  commits: Record<string, Record<string, Uint8Array>>;
  /** Paths stored with LFS (ETag = sha256 of the content). */
  lfs: Set<string>;
}

export interface HfState {
  repos: Record<string, HfRepo>;
  token?: string;
  /** Serve other bytes from the CDN than the ETag promises (a tampered mirror). */
  tamper?: boolean;
}

export async function startHfServer(state: HfState): Promise<LocalServer> {
  const cdn = new Map<string, Uint8Array>();
  return localServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    const error = (status: number, code: string, message: string) => {
      res.writeHead(status, { "content-type": "application/json", "x-error-code": code });
      res.end(JSON.stringify({ error: message }));
    };
    if (state.token !== undefined && !url.pathname.startsWith("/cdn/") && req.headers.authorization !== `Bearer ${state.token}`) {
      res.writeHead(401, { "content-type": "application/json", "x-error-code": "RepoNotFound" });
      res.end(JSON.stringify({ error: "Invalid credentials in Authorization header" }));
      return;
    }
    const commitOf = (repo: HfRepo, rev: string) => (/^[0-9a-f]{40}$/.test(rev) && repo.commits[rev] ? rev : repo.refs[rev]);
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const repo = state.repos[m[1]];
      if (!repo) return error(404, "RepoNotFound", "Repository not found");
      const sha = commitOf(repo, decodeURIComponent(m[2]));
      if (!sha) return error(404, "RevisionNotFound", "Invalid rev id");
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ _id: "0123", id: m[1], sha, private: false, pipeline_tag: "image-feature-extraction", downloads: 0, likes: 0, gated: false, lastModified: "2026-01-01T00:00:00.000Z" }));
      return;
    }
    m = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (m) {
      let bytes = cdn.get(m[1]);
      if (!bytes) return error(404, "EntryNotFound", "gone");
      if (state.tamper) bytes = new TextEncoder().encode("tampered bytes");
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
      const headers = { etag: `"${m[1]}"`, "content-type": "application/octet-stream" };
      if (range) {
        const [from, to] = [Number(range[1]), Math.min(Number(range[2]), bytes.byteLength - 1)];
        res.writeHead(206, { ...headers, "content-range": `bytes ${from}-${to}/${bytes.byteLength}` });
        res.end(bytes.subarray(from, to + 1));
      } else {
        res.writeHead(200, headers);
        res.end(bytes);
      }
      return;
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m) {
      const repo = state.repos[m[1]];
      if (!repo) return error(404, "RepoNotFound", "Repository not found");
      const sha = commitOf(repo, decodeURIComponent(m[2]));
      if (!sha) return error(404, "RevisionNotFound", "Invalid rev id");
      const path = decodeURIComponent(m[3]);
      const bytes = repo.commits[sha][path];
      if (!bytes) return error(404, "EntryNotFound", "Entry not found");
      if (repo.lfs.has(path)) {
        const oid = createHash("sha256").update(bytes).digest("hex");
        cdn.set(oid, bytes);
        res.writeHead(302, { location: `/cdn/${oid}`, "x-linked-etag": `"${oid}"`, "x-linked-size": String(bytes.byteLength), "x-repo-commit": sha });
        res.end();
        return;
      }
      const gitSha = createHash("sha1").update(`blob ${bytes.byteLength}\0`).update(bytes).digest("hex");
      res.writeHead(req.headers.range ? 206 : 200, {
        etag: `"${gitSha}"`,
        "x-repo-commit": sha,
        ...(req.headers.range ? { "content-range": `bytes 0-0/${bytes.byteLength}` } : {}),
      });
      res.end(req.headers.range ? bytes.subarray(0, 1) : bytes);
      return;
    }
    error(404, "EntryNotFound", "not found");
  });
}
