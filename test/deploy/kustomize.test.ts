/**
 * k8s/: every overlay is rendered with `kubectl kustomize`, every object is validated against the
 * Kubernetes (and KEDA) schemas from kubernetes-models, and the properties the deployment relies
 * on are asserted: restricted security contexts, probes, GPU limits on workers, PDBs that select
 * the right pods, replicas per overlay, Secret references instead of values, tagged images.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { CONFIG_ENV, loadConfig } from "../../src/config.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const KUBECTL = process.env.KUBECTL ?? "kubectl";
const VERSION = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
/** Scaled-mode variables the manifests set, in case src/config.ts does not list them (yet). */
const SCALED_MODE_ENV = [
  "SSLMEM_QUEUE",
  "SSLMEM_DATABASE_URL",
  "SSLMEM_WORKER_HEALTH_PORT",
  "SSLMEM_QUEUE_NAME",
  "SSLMEM_QUEUE_PREFIX",
  "SSLMEM_SHARD_SIZE",
  "SSLMEM_WORKER_CONCURRENCY",
];
const SECRET_NAME = "sslmem-secrets";
const SECRET_ENV = /(DATABASE_URL|^SSLMEM_QUEUE$|PASSWORD|SECRET|TOKEN|API_?KEY|CREDENTIAL)/i;
const CREDENTIALS_IN_URL = /:\/\/[^/\s:@]*:[^/\s@]+@/;

// ---- rendering and schema validation -------------------------------------------------------------

type Obj = Record<string, any>;

function kubectlMissing(): string | undefined {
  const r = spawnSync(KUBECTL, ["version", "--client"], { encoding: "utf8" });
  if (r.error) {
    return `kubectl not found (${(r.error as NodeJS.ErrnoException).code}): these tests render k8s/ with \`kubectl kustomize\`. Install kubectl (Debian: apt-get install kubernetes-client; .ci/run does it) or set KUBECTL=/path/to/kubectl.`;
  }
  return r.status === 0 ? undefined : `\`${KUBECTL} version --client\` failed: ${r.stderr.trim()}`;
}

function render(dir: string): Obj[] {
  const missing = kubectlMissing();
  assert.ok(!missing, missing);
  const r = spawnSync(KUBECTL, ["kustomize", join(root, dir)], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  assert.equal(r.status, 0, `kubectl kustomize ${dir} failed:\n${r.stderr}`);
  const docs = parseAllDocuments(r.stdout);
  for (const d of docs) assert.deepEqual(d.errors, [], `${dir}: YAML errors`);
  const objects = docs.map((d) => d.toJS() as Obj).filter((o) => o !== null);
  assert.ok(objects.length > 0, `${dir} rendered nothing`);
  return objects;
}

/** The kubernetes-models package that holds an API group's schemas; anything else is unknown. */
function modelPackage(group: string): string | undefined {
  if (group === "keda.sh") return "@kubernetes-models/keda";
  if (group === "" || !group.includes(".") || group.endsWith(".k8s.io")) return "kubernetes-models";
  return undefined;
}

/** Validates one object against the schema of its apiVersion/kind; an unknown kind is an error. */
async function validateObject(obj: Obj): Promise<void> {
  const where = `${obj.apiVersion}/${obj.kind} ${obj.metadata?.name}`;
  assert.equal(typeof obj.apiVersion, "string", `${where}: apiVersion`);
  assert.equal(typeof obj.kind, "string", `${where}: kind`);
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  const pkg = modelPackage(group);
  assert.ok(pkg, `${where}: no schema package for API group '${group}'`);
  let Model: (new (data: Obj) => { validate(): void }) | undefined;
  try {
    Model = (await import(`${pkg}/${group ? `${group}/` : ""}${version}/${obj.kind}`))[obj.kind];
  } catch {
    Model = undefined;
  }
  assert.ok(Model, `${where}: unknown apiVersion/kind (no model in ${pkg})`);
  try {
    new Model(obj).validate();
  } catch (e) {
    assert.fail(`${where} is invalid: ${(e as Error).message}`);
  }
}

// ---- helpers over rendered objects ---------------------------------------------------------------

const ofKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
const named = (objs: Obj[], kind: string, name: string): Obj | undefined => objs.find((o) => o.kind === kind && o.metadata.name === name);
const mustGet = (objs: Obj[], kind: string, name: string): Obj => {
  const o = named(objs, kind, name);
  assert.ok(o, `${kind} ${name} is not rendered`);
  return o;
};
const podSpec = (d: Obj): Obj => d.spec.template.spec;
const containers = (d: Obj): Obj[] => podSpec(d).containers;
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
const configMap = (objs: Obj[]): Obj => {
  const cms = ofKind(objs, "ConfigMap");
  assert.equal(cms.length, 1);
  return cms[0];
};
/** A container's environment: ConfigMap (through envFrom) overlaid with env entries. */
function containerEnv(objs: Obj[], c: Obj): Map<string, { value?: string; secret?: { name: string; key: string } }> {
  const env = new Map<string, { value?: string; secret?: { name: string; key: string } }>();
  for (const from of c.envFrom ?? []) {
    assert.ok(from.configMapRef, `${c.name}: envFrom must reference a ConfigMap, not a Secret (keys would be unchecked)`);
    const cm = mustGet(objs, "ConfigMap", from.configMapRef.name);
    for (const [k, v] of Object.entries(cm.data ?? {})) env.set(k, { value: String(v) });
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom?.secretKeyRef) env.set(e.name, { secret: e.valueFrom.secretKeyRef });
    else env.set(e.name, { value: e.value });
  }
  return env;
}
const quantity = (q: string | number | undefined): number => {
  if (q === undefined) return NaN;
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti)?$/.exec(String(q));
  assert.ok(m, `unparsed quantity ${q}`);
  const scale: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  return Number(m[1]) * (m[2] ? scale[m[2]] : 1);
};

// ---- checks every rendering must pass ------------------------------------------------------------

function checkDeploymentCommon(objs: Obj[], d: Obj): void {
  const name = d.metadata.name;
  const spec = podSpec(d);
  assert.ok(selects(d.spec.selector.matchLabels, d.spec.template.metadata.labels), `${name}: selector does not match its own pods`);
  assert.equal(spec.automountServiceAccountToken, false, `${name}: no service account token needed`);
  assert.equal(spec.enableServiceLinks, false, `${name}: service links would pollute the SSLMEM_* environment`);
  // Pod Security Standard "restricted".
  const psc = spec.securityContext ?? {};
  assert.equal(psc.runAsNonRoot, true, `${name}: runAsNonRoot`);
  assert.ok(Number.isInteger(psc.runAsUser) && psc.runAsUser > 0, `${name}: numeric non-root runAsUser`);
  assert.equal(psc.runAsUser, 10001, `${name}: runAsUser matches the image's USER`);
  assert.equal(psc.seccompProfile?.type, "RuntimeDefault", `${name}: seccompProfile`);
  assert.ok(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, `${name}: no host namespaces`);
  const volumes = new Map<string, Obj>((spec.volumes ?? []).map((v: Obj) => [v.name, v]));
  for (const v of volumes.values()) {
    const sources = Object.keys(v).filter((k) => k !== "name");
    assert.equal(sources.length, 1, `${name}: volume ${v.name} has sources ${sources.join(", ")}`);
    assert.ok(["emptyDir", "persistentVolumeClaim", "configMap", "secret", "projected"].includes(sources[0]), `${name}: volume type ${sources[0]}`);
  }
  const graceMs = Number(containerEnv(objs, containers(d)[0]).get("SSLMEM_SHUTDOWN_GRACE_MS")?.value ?? 10_000);
  assert.ok((spec.terminationGracePeriodSeconds ?? 30) * 1000 > graceMs, `${name}: terminationGracePeriodSeconds must exceed SSLMEM_SHUTDOWN_GRACE_MS`);

  for (const c of spec.containers) {
    const where = `${name}/${c.name}`;
    const sc = c.securityContext ?? {};
    assert.equal(sc.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation`);
    assert.equal(sc.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
    assert.notEqual(sc.privileged, true, `${where}: privileged`);
    assert.deepEqual(sc.capabilities?.drop, ["ALL"], `${where}: capabilities.drop`);
    assert.equal(sc.capabilities?.add, undefined, `${where}: capabilities.add`);
    assert.ok(!sc.runAsUser || sc.runAsUser > 0, `${where}: runAsUser`);
    // A read-only root needs a writable /tmp (tsx's cache) and /data (the service's own files).
    const mounts = new Map<string, string>((c.volumeMounts ?? []).map((m: Obj) => [m.mountPath, m.name]));
    assert.ok(volumes.get(mounts.get("/tmp") ?? "")?.emptyDir, `${where}: /tmp must be an emptyDir`);
    assert.ok(volumes.has(mounts.get("/data") ?? ""), `${where}: /data must be mounted`);
    // Probes on a port the container declares.
    const ports = new Set((c.ports ?? []).flatMap((p: Obj) => [p.name, p.containerPort]));
    for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
      const p = c[probe];
      assert.ok(p?.httpGet, `${where}: ${probe} (httpGet)`);
      assert.ok(ports.has(p.httpGet.port), `${where}: ${probe} uses undeclared port ${p.httpGet.port}`);
      assert.match(p.httpGet.path, /^\/(livez|readyz)$/, `${where}: ${probe} path`);
    }
    assert.equal(c.livenessProbe.httpGet.path, "/livez", `${where}: liveness must not depend on dependencies (/readyz)`);
    assert.equal(c.readinessProbe.httpGet.path, "/readyz", `${where}: readiness`);
    // Requests and limits.
    const r = c.resources ?? {};
    for (const k of ["cpu", "memory"]) assert.ok(r.requests?.[k], `${where}: requests.${k}`);
    assert.ok(r.limits?.memory, `${where}: limits.memory`);
    assert.ok(quantity(r.limits.memory) >= quantity(r.requests.memory), `${where}: memory limit below request`);
    if (r.limits.cpu) assert.ok(quantity(r.limits.cpu) >= quantity(r.requests.cpu), `${where}: cpu limit below request`);
    // Command: the image's ENTRYPOINT (tini -- node bin/sslmem.js) stays; args pick the command.
    assert.equal(c.command, undefined, `${where}: keep the image's ENTRYPOINT (tini)`);
  }
}

function checkCommon(objs: Obj[], overlay: string): void {
  // Secrets are referenced, never rendered, and never inlined.
  assert.deepEqual(ofKind(objs, "Secret"), [], "a Secret with values must not be part of k8s/");
  const cm = configMap(objs);
  for (const [k, v] of Object.entries<string>(cm.data ?? {})) {
    assert.doesNotMatch(k, SECRET_ENV, `ConfigMap key ${k} belongs in ${SECRET_NAME}`);
    assert.doesNotMatch(String(v), CREDENTIALS_IN_URL, `ConfigMap ${k} embeds credentials`);
    assert.ok(Object.values(CONFIG_ENV).includes(k) || SCALED_MODE_ENV.includes(k), `ConfigMap key ${k} is not a setting sslmem reads`);
  }
  // The settings are valid for the service's own config parser.
  assert.doesNotThrow(() => loadConfig(cm.data), "the ConfigMap must pass loadConfig");

  for (const d of ofKind(objs, "Deployment")) {
    checkDeploymentCommon(objs, d);
    for (const c of containers(d)) {
      for (const [k, v] of containerEnv(objs, c)) {
        if (SECRET_ENV.test(k)) assert.ok(v.secret, `${d.metadata.name}/${c.name}: ${k} must come from a secretKeyRef`);
        if (v.secret) assert.equal(v.secret.name, SECRET_NAME, `${k}: one Secret, ${SECRET_NAME}`);
        if (v.value) assert.doesNotMatch(v.value, CREDENTIALS_IN_URL, `${k} embeds credentials`);
      }
      if (overlay !== "base") {
        assert.match(c.image, /^[^@]+:[\w][\w.-]*$/, `${d.metadata.name}: image ${c.image} must be tagged`);
        assert.doesNotMatch(c.image, /:latest$/, `${d.metadata.name}: no :latest`);
        assert.match(c.image, new RegExp(`:${VERSION.replace(/\./g, "\\.")}-(cpu|gpu)$`), `${d.metadata.name}: tag ${c.image} should be this release (${VERSION}-cpu|gpu)`);
      }
    }
  }

  // Every Deployment is covered by exactly one PDB, and every PDB selects exactly one Deployment's pods.
  const deployments = ofKind(objs, "Deployment");
  for (const pdb of ofKind(objs, "PodDisruptionBudget")) {
    const selected = deployments.filter((d) => selects(pdb.spec.selector.matchLabels, d.spec.template.metadata.labels));
    assert.equal(selected.length, 1, `PDB ${pdb.metadata.name} selects ${selected.map((d) => d.metadata.name).join(", ") || "nothing"}`);
    assert.equal(selected[0].metadata.name, pdb.metadata.name, `PDB ${pdb.metadata.name} guards ${selected[0].metadata.name}`);
    assert.equal(pdb.spec.minAvailable, undefined, `PDB ${pdb.metadata.name}: minAvailable can block drains at 1 replica`);
    assert.ok(pdb.spec.maxUnavailable >= 1, `PDB ${pdb.metadata.name}: maxUnavailable`);
  }
  for (const d of deployments) {
    const covering = ofKind(objs, "PodDisruptionBudget").filter((p) => selects(p.spec.selector.matchLabels, d.spec.template.metadata.labels));
    assert.equal(covering.length, 1, `Deployment ${d.metadata.name} is covered by ${covering.length} PDBs`);
  }

  // The Service reaches the API pods only, on a port the container declares.
  const svc = mustGet(objs, "Service", "sslmem-api");
  const api = mustGet(objs, "Deployment", "sslmem-api");
  assert.deepEqual(
    deployments.filter((d) => selects(svc.spec.selector, d.spec.template.metadata.labels)).map((d) => d.metadata.name),
    ["sslmem-api"],
  );
  const apiPorts = containers(api)[0].ports.map((p: Obj) => p.name);
  for (const p of svc.spec.ports) assert.ok(apiPorts.includes(p.targetPort), `Service targetPort ${p.targetPort}`);
  assert.equal(named(objs, "Service", "sslmem"), undefined, "a Service named sslmem injects SSLMEM_PORT=tcp://… into pods with service links");

  // Every claim a pod mounts is rendered.
  for (const d of deployments) {
    for (const v of podSpec(d).volumes ?? []) {
      if (v.persistentVolumeClaim) mustGet(objs, "PersistentVolumeClaim", v.persistentVolumeClaim.claimName);
    }
  }
}

function checkWorker(objs: Obj[], w: Obj): void {
  const [c] = containers(w);
  assert.deepEqual(c.args, ["worker"]);
  assert.match(c.image, /(^sslmem-gpu$|-gpu$)/, "workers run the gpu image");
  const gpus = c.resources.limits?.["nvidia.com/gpu"];
  assert.ok(Number(gpus) >= 1, "workers need nvidia.com/gpu limits");
  if (c.resources.requests?.["nvidia.com/gpu"] !== undefined) assert.equal(Number(c.resources.requests["nvidia.com/gpu"]), Number(gpus), "extended resources: request = limit");
  assert.ok(podSpec(w).tolerations?.some((t: Obj) => t.key === "nvidia.com/gpu"), "tolerate the GPU node taint");
  // Model warm-up: the startup probe must allow minutes before liveness can kill the pod.
  const sp = c.startupProbe;
  assert.ok(sp.periodSeconds * sp.failureThreshold >= 300, "startupProbe allows at least 5 minutes of warm-up");
  assert.equal(sp.httpGet.path, "/readyz", "started = warmed up");
  assert.equal(w.spec.strategy?.rollingUpdate?.maxSurge, 0, "no surge pod waiting for a spare GPU");
  const env = containerEnv(objs, c);
  assert.equal(String(c.ports[0].containerPort), env.get("SSLMEM_WORKER_HEALTH_PORT")?.value, "health port = SSLMEM_WORKER_HEALTH_PORT");
  assert.equal(w.spec.template.metadata.annotations?.["prometheus.io/port"], env.get("SSLMEM_WORKER_HEALTH_PORT")?.value);
}

/** The scaled-mode connection settings: from the Secret, in both API and workers, blobs shared. */
function checkScaledConnections(objs: Obj[]): void {
  for (const name of ["sslmem-api", "sslmem-worker"]) {
    const d = mustGet(objs, "Deployment", name);
    const env = containerEnv(objs, containers(d)[0]);
    assert.deepEqual(env.get("SSLMEM_DATABASE_URL")?.secret, { name: SECRET_NAME, key: "database-url" }, `${name}: PostgreSQL URL`);
    assert.deepEqual(env.get("SSLMEM_QUEUE")?.secret, { name: SECRET_NAME, key: "queue-url" }, `${name}: Redis URL`);
    const data = podSpec(d).volumes.find((v: Obj) => v.name === "data");
    assert.equal(data.persistentVolumeClaim?.claimName, "sslmem-blobs", `${name}: blobs on the shared claim`);
  }
  const pvc = mustGet(objs, "PersistentVolumeClaim", "sslmem-blobs");
  assert.deepEqual(pvc.spec.accessModes, ["ReadWriteMany"], "blobs are shared by every pod");
}

// ---- the renderings ------------------------------------------------------------------------------

const RENDERINGS = ["k8s/base", "k8s/overlays/embedded", "k8s/overlays/scaled", "k8s/overlays/scaled-keda"] as const;
const rendered = new Map<string, Obj[]>();
const get = (dir: string): Obj[] => {
  if (!rendered.has(dir)) rendered.set(dir, render(dir));
  return rendered.get(dir)!;
};

describe("k8s renderings", () => {
  it("has kubectl with kustomize", () => {
    const missing = kubectlMissing();
    assert.ok(!missing, missing);
  });

  for (const dir of RENDERINGS) {
    describe(dir, () => {
      it("renders, and every object validates against its Kubernetes/KEDA schema", async () => {
        for (const obj of get(dir)) await validateObject(obj);
      });

      it("is restricted, probed, resourced, PDB-guarded, with Secrets referenced not inlined", () => {
        checkCommon(get(dir), dir.split("/").pop()!);
      });
    });
  }

  it("the schema check rejects invalid objects and unknown kinds", async () => {
    const d = structuredClone(mustGet(get("k8s/overlays/scaled"), "Deployment", "sslmem-worker"));
    d.spec.replicas = "two";
    await assert.rejects(validateObject(d), /replicas must be integer/);
    await assert.rejects(validateObject({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }), /no schema package/);
    await assert.rejects(validateObject({ apiVersion: "apps/v1", kind: "Widget", metadata: { name: "w" } }), /unknown apiVersion\/kind/);
  });

  it("embedded: one API replica running everything in-process on a GPU, data on a ReadWriteOnce claim, no workers", () => {
    const objs = get("k8s/overlays/embedded");
    assert.deepEqual(ofKind(objs, "Deployment").map((d) => d.metadata.name), ["sslmem-api"]);
    assert.equal(named(objs, "PodDisruptionBudget", "sslmem-worker"), undefined);
    const api = mustGet(objs, "Deployment", "sslmem-api");
    assert.equal(api.spec.replicas, 1);
    assert.equal(api.spec.strategy?.type, "Recreate", "a second pod cannot share the RWO volume / SQLite file");
    const [c] = containers(api);
    assert.deepEqual(c.args, ["serve"]);
    assert.match(c.image, /-gpu$/);
    assert.ok(Number(c.resources.limits["nvidia.com/gpu"]) >= 1);
    const env = containerEnv(objs, c);
    assert.equal(env.get("SSLMEM_QUEUE"), undefined, "embedded mode uses the in-process runner");
    assert.equal(env.get("SSLMEM_DATABASE_URL"), undefined, "embedded mode uses SQLite");
    const claim = podSpec(api).volumes.find((v: Obj) => v.name === "data").persistentVolumeClaim?.claimName;
    assert.deepEqual(mustGet(objs, "PersistentVolumeClaim", claim).spec.accessModes, ["ReadWriteOnce"]);
  });

  it("scaled: API x2 on the cpu image, GPU workers x2, Redis and PostgreSQL from the Secret, shared blobs", () => {
    const objs = get("k8s/overlays/scaled");
    const api = mustGet(objs, "Deployment", "sslmem-api");
    assert.equal(api.spec.replicas, 2);
    assert.deepEqual(containers(api)[0].args, ["serve"]);
    assert.match(containers(api)[0].image, /-cpu$/);
    assert.equal(containers(api)[0].resources.limits["nvidia.com/gpu"], undefined, "API pods take no GPU");
    const worker = mustGet(objs, "Deployment", "sslmem-worker");
    assert.equal(worker.spec.replicas, 2);
    checkWorker(objs, worker);
    checkScaledConnections(objs);
    assert.deepEqual(ofKind(objs, "ScaledObject"), [], "KEDA is opt-in");
  });

  it("base: the worker Deployment carries GPU limits and a warm-up startupProbe", () => {
    checkWorker(get("k8s/base"), mustGet(get("k8s/base"), "Deployment", "sslmem-worker"));
  });

  it("scaled-keda: KEDA scales the workers on the BullMQ lists, and owns their replica count", () => {
    const objs = get("k8s/overlays/scaled-keda");
    const worker = mustGet(objs, "Deployment", "sslmem-worker");
    assert.equal(worker.spec.replicas, undefined, "a fixed replica count would fight the HPA on every apply");
    checkWorker(objs, worker);
    checkScaledConnections(objs);
    assert.equal(mustGet(objs, "Deployment", "sslmem-api").spec.replicas, 2);

    const so = mustGet(objs, "ScaledObject", "sslmem-worker");
    assert.equal(so.spec.scaleTargetRef.name, worker.metadata.name);
    assert.equal(so.spec.scaleTargetRef.kind ?? "Deployment", "Deployment");
    assert.ok(so.spec.maxReplicaCount >= 1 && so.spec.maxReplicaCount >= (so.spec.minReplicaCount ?? 1));
    const lists = so.spec.triggers.map((t: Obj) => {
      assert.equal(t.type, "redis");
      assert.ok(Number(t.metadata.listLength) >= 1, "listLength target per replica");
      const auth = mustGet(objs, "TriggerAuthentication", t.authenticationRef.name);
      const params = new Map<string, Obj>(auth.spec.secretTargetRef.map((r: Obj) => [r.parameter, r]));
      assert.equal(params.get("address")?.name, SECRET_NAME);
      assert.ok(params.has("password"));
      assert.equal(t.metadata.address, undefined, "the address comes from the Secret");
      return t.metadata.listName as string;
    });
    // Both lists of the workers' BullMQ queue (<prefix>:<name>:…, as the ConfigMap sets them):
    // waiting shards, and shards in flight so that busy workers are not scaled away.
    const env = containerEnv(objs, containers(worker)[0]);
    const queueKey = `${env.get("SSLMEM_QUEUE_PREFIX")?.value ?? "bull"}:${env.get("SSLMEM_QUEUE_NAME")?.value ?? "sslmem"}`;
    assert.deepEqual(lists.sort(), [`${queueKey}:active`, `${queueKey}:wait`]);
    const active = so.spec.triggers.find((t: Obj) => t.metadata.listName.endsWith(":active"));
    assert.equal(active.metadata.listLength, env.get("SSLMEM_WORKER_CONCURRENCY")?.value ?? "1", "one replica per concurrent shard");
  });
});
