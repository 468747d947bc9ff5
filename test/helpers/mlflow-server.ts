/**
 * A local server implementing the MLflow tracking server's REST routes that sslmem reads, with
 * MLflow's request and response shapes (model_version objects, error_code bodies, the
 * mlflow-artifacts proxy's listing of base names). No MLflow can run here; this is its API.
 */
import { localServer, type LocalServer } from "./sources.ts";

export interface MlflowModelVersion {
  version: string;
  /** mlflow-artifacts:/… root of the version's artifacts. */
  source: string;
  /** Set by POST model-versions/set-tag. */
  tags?: Record<string, string>;
}

export interface MlflowState {
  models: Record<string, { versions: MlflowModelVersion[]; aliases: Record<string, string> }>;
  /** Artifact store: path (relative to the proxy root) → bytes. */
  artifacts: Map<string, Uint8Array>;
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  token?: string;
}

function mlflowError(status: number, code: string, message: string) {
  return { status, body: { error_code: code, message } };
}

export async function startMlflowServer(state: MlflowState): Promise<LocalServer> {
  return localServer(async (req, res) => {
    const url = new URL(req.url!, "http://x");
    let body: Record<string, string> = {};
    if (req.method === "POST") {
      let text = "";
      for await (const chunk of req) text += chunk;
      body = JSON.parse(text || "{}") as Record<string, string>;
    }
    const q = url.searchParams;
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (state.token !== undefined && req.headers.authorization !== `Bearer ${state.token}`) {
      reply(401, { error_code: "UNAUTHENTICATED", message: "You are not authenticated." });
      return;
    }
    const find = (name: string | null, version: string | null) => {
      const model = name ? state.models[name] : undefined;
      if (!model) return mlflowError(404, "RESOURCE_DOES_NOT_EXIST", `Registered Model with name=${name} not found`);
      const v = model.versions.find((x) => x.version === version);
      if (!v) return mlflowError(404, "RESOURCE_DOES_NOT_EXIST", `Model Version (name=${name}, version=${version}) not found`);
      return { status: 200, body: { model_version: { name, version: v.version, source: v.source, run_id: "run1", status: "READY", current_stage: "None", aliases: [] } } };
    };
    if (req.method === "POST") {
      switch (url.pathname) {
        case "/api/2.0/mlflow/model-versions/set-tag": {
          const r = find(body.name, body.version);
          if (r.status !== 200) return reply(r.status, r.body);
          const v = state.models[body.name].versions.find((x) => x.version === body.version)!;
          v.tags = { ...v.tags, [body.key]: body.value };
          return reply(200, {});
        }
        case "/api/2.0/mlflow/registered-models/alias": {
          const r = find(body.name, body.version);
          if (r.status !== 200) return reply(r.status, r.body);
          state.models[body.name].aliases[body.alias] = body.version;
          return reply(200, {});
        }
      }
      return reply(404, { error_code: "ENDPOINT_NOT_FOUND", message: "No API endpoint found" });
    }
    switch (url.pathname) {
      case "/api/2.0/mlflow/registered-models/alias": {
        const name = q.get("name");
        const model = name ? state.models[name] : undefined;
        const version = model?.aliases[q.get("alias") ?? ""];
        if (!version) {
          reply(404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: `Registered model alias ${q.get("alias")} not found.` });
          return;
        }
        const r = find(name, version);
        reply(r.status, r.body);
        return;
      }
      case "/api/2.0/mlflow/model-versions/get": {
        const r = find(q.get("name"), q.get("version"));
        reply(r.status, r.body);
        return;
      }
      case "/api/2.0/mlflow/model-versions/get-download-uri": {
        const r = find(q.get("name"), q.get("version"));
        if (r.status !== 200) reply(r.status, r.body);
        else reply(200, { artifact_uri: (r.body as { model_version: { source: string } }).model_version.source });
        return;
      }
      case "/api/2.0/mlflow-artifacts/artifacts": {
        // Lists one level: base names, like the real proxy (_list_artifacts_mlflow_artifacts).
        const dir = (q.get("path") ?? "").replace(/\/+$/, "");
        const names = new Map<string, { is_dir: boolean; file_size?: string }>();
        for (const [path, bytes] of state.artifacts) {
          if (!path.startsWith(`${dir}/`)) continue;
          const rest = path.slice(dir.length + 1).split("/");
          names.set(rest[0], rest.length > 1 ? { is_dir: true } : { is_dir: false, file_size: String(bytes.byteLength) });
        }
        reply(200, names.size ? { files: [...names].map(([path, f]) => ({ path, ...f })) } : {});
        return;
      }
    }
    const prefix = "/api/2.0/mlflow-artifacts/artifacts/";
    if (url.pathname.startsWith(prefix)) {
      const path = decodeURIComponent(url.pathname.slice(prefix.length));
      const bytes = state.artifacts.get(path);
      if (!bytes) {
        reply(404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: `File ${path} not found` });
        return;
      }
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(bytes);
      return;
    }
    reply(404, { error_code: "ENDPOINT_NOT_FOUND", message: "No API endpoint found" });
  });
}
