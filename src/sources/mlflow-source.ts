/**
 * `models:/<name>/<version>` and `models:/<name>@<alias>` against an MLflow tracking server,
 * through its REST API only (no MLflow client):
 *   GET /api/2.0/mlflow/registered-models/alias            alias → version
 *   GET /api/2.0/mlflow/model-versions/get                 the version exists
 *   GET /api/2.0/mlflow/model-versions/get-download-uri    where its artifacts are
 *   GET /api/2.0/mlflow-artifacts/artifacts?path=…         list (the server's artifact proxy)
 *   GET /api/2.0/mlflow-artifacts/artifacts/<path>         download
 * The ONNX file is the `onnx` flavor's `data` in the model's MLmodel, else the single *.onnx in
 * the artifact directory. A version is immutable, so (server, name, version) → digest is cached.
 */
import { parse as parseYaml } from "yaml";
import type { SourceIdentity } from "../core/source-identity.ts";
import { SslmemError } from "../core/errors.ts";
import type { SourceContext } from "./context.ts";
import { alreadyStored, ingestResponse } from "./ingest.ts";
import type { SourceReference } from "./reference.ts";
import { failForStatus, readBounded, readJson } from "./source-failure.ts";

type MlflowReference = Extract<SourceReference, { scheme: "mlflow" }>;

interface ArtifactFile {
  path: string;
  is_dir?: boolean;
  file_size?: number | string;
}

class MlflowApi {
  constructor(
    private readonly ctx: SourceContext,
    private readonly base: URL,
    private readonly token: string | undefined,
  ) {}

  get where(): string {
    return `the MLflow server ${this.base.host}`;
  }

  url(path: string, query: Record<string, string> = {}): URL {
    const u = new URL(`${this.base.pathname.replace(/\/+$/, "")}${path}`, this.base);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    return u;
  }

  async get(path: string, query: Record<string, string>, what: string): Promise<Response> {
    const res = await this.ctx.fetch(this.url(path, query), {
      headers: { accept: "application/json", ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
    });
    if (res.ok) return res;
    // MLflow answers a missing entity with RESOURCE_DOES_NOT_EXIST, as 404 (or 400 in older servers).
    if (res.status === 400) {
      const { json } = await readJson(res, this.where).catch(() => ({ json: {} }));
      const code = (json as { error_code?: string }).error_code;
      if (code === "RESOURCE_DOES_NOT_EXIST") throw new SslmemError("source_not_found", `${this.where} has no ${what}`);
      throw new SslmemError("source_invalid", `${this.where} refused the request for ${what} (${code ?? "HTTP 400"})`);
    }
    return failForStatus(res, what, this.where);
  }

  async json(path: string, query: Record<string, string>, what: string): Promise<Record<string, unknown>> {
    const { json } = await readJson(await this.get(path, query, what), this.where);
    if (json === null || typeof json !== "object") throw new SslmemError("source_unreachable", `${this.where} sent an unexpected answer for ${what}`);
    return json as Record<string, unknown>;
  }
}

function versionOf(body: Record<string, unknown>, where: string): string {
  const v = (body.model_version as { version?: unknown } | undefined)?.version;
  if (typeof v !== "string" && typeof v !== "number") throw new SslmemError("source_unreachable", `${where} sent a model version without a version number`);
  return String(v);
}

/** `mlflow-artifacts:/0/abc/artifacts/model` (or with an authority) → `0/abc/artifacts/model`. */
function proxiedArtifactPath(artifactUri: string, where: string): string {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(artifactUri);
  if (!m) {
    const scheme = artifactUri.split(":")[0];
    throw new SslmemError(
      "source_invalid",
      `the model's artifacts are stored at a ${scheme}: location, which sslmem reads only through ${where}'s artifact proxy; serve artifacts with 'mlflow server --serve-artifacts'`,
    );
  }
  return m[1].replace(/\/+$/, "");
}

export async function resolveMlflow(ctx: SourceContext, ref: MlflowReference): Promise<SourceIdentity> {
  if (!ctx.mlflow) throw new SslmemError("source_invalid", "models:/ references need an MLflow tracking server; set SSLMEM_MLFLOW_URI");
  const api = new MlflowApi(ctx, ctx.mlflow.uri, ctx.mlflow.token);
  const version =
    ref.alias !== undefined
      ? versionOf(await api.json("/api/2.0/mlflow/registered-models/alias", { name: ref.name, alias: ref.alias }, `alias '${ref.alias}' of model '${ref.name}'`), api.where)
      : versionOf(await api.json("/api/2.0/mlflow/model-versions/get", { name: ref.name, version: ref.version }, `version ${ref.version} of model '${ref.name}'`), api.where);
  const identity = (stored: { digest: string; size: number; file?: string }): SourceIdentity => ({
    uri: ref.uri,
    scheme: "mlflow",
    resolved: `models:/${ref.name}/${version}`,
    version,
    ...(stored.file ? { file: stored.file } : {}),
    digest: stored.digest,
    size: stored.size,
  });
  const locator = `mlflow:${ctx.mlflow.uri.href}|${ref.name}|${version}`;
  const cached = await ctx.cache.get(locator);
  if (cached && (await alreadyStored(ctx, cached.digest))) return identity(cached);

  const download = await api.json("/api/2.0/mlflow/model-versions/get-download-uri", { name: ref.name, version }, `the artifacts of version ${version} of '${ref.name}'`);
  if (typeof download.artifact_uri !== "string") throw new SslmemError("source_unreachable", `${api.where} sent no artifact_uri`);
  const root = proxiedArtifactPath(download.artifact_uri, api.where);
  const file = await chooseOnnxFile(api, root, `models:/${ref.name}/${version}`);
  const res = await api.get(`/api/2.0/mlflow-artifacts/artifacts/${encodePath(`${root}/${file}`)}`, {}, `the artifact ${file}`);
  const stored = await ingestResponse(ctx, res, { what: `models:/${ref.name}/${version} (${file})` });
  await ctx.cache.set(locator, { ...stored, file });
  return identity({ ...stored, file });
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

async function listArtifacts(api: MlflowApi, path: string): Promise<ArtifactFile[]> {
  const body = await api.json("/api/2.0/mlflow-artifacts/artifacts", { path }, "the model's artifact listing");
  return Array.isArray(body.files) ? (body.files as ArtifactFile[]).filter((f) => typeof f.path === "string") : [];
}

/** The ONNX file, relative to the artifact root: MLmodel's onnx flavor, else the only *.onnx. */
async function chooseOnnxFile(api: MlflowApi, root: string, what: string): Promise<string> {
  const files = await listArtifacts(api, root);
  // The proxy lists base names; some servers list paths relative to the store: keep the last segment.
  const names = files.map((f) => ({ name: f.path.split("/").pop()!, dir: Boolean(f.is_dir) }));
  if (names.some((f) => f.name === "MLmodel" && !f.dir)) {
    const res = await api.get(`/api/2.0/mlflow-artifacts/artifacts/${encodePath(`${root}/MLmodel`)}`, {}, "the model's MLmodel file");
    const text = (await readBounded(res, api.where, 1024 * 1024)).toString("utf8");
    let mlmodel: unknown;
    try {
      mlmodel = parseYaml(text);
    } catch {
      throw new SslmemError("source_invalid", `${what}: the MLmodel file is not valid YAML`);
    }
    const data = (mlmodel as { flavors?: { onnx?: { data?: unknown } } } | null)?.flavors?.onnx?.data;
    if (typeof data === "string" && data !== "" && !data.split("/").includes("..")) return data.replace(/^\.\//, "");
  }
  const onnx = names.filter((f) => !f.dir && f.name.toLowerCase().endsWith(".onnx"));
  if (onnx.length === 1) return onnx[0].name;
  const listing = names.map((f) => (f.dir ? `${f.name}/` : f.name)).join(", ") || "nothing";
  if (onnx.length > 1) {
    throw new SslmemError("source_ambiguous", `${what} has ${onnx.length} .onnx files and no onnx flavor in MLmodel saying which: ${listing}`, {
      files: onnx.map((f) => f.name),
    });
  }
  throw new SslmemError("source_not_found", `${what} has no ONNX model (no onnx flavor in MLmodel, no *.onnx file); its artifacts hold: ${listing}`, {
    files: names.map((f) => f.name),
  });
}
