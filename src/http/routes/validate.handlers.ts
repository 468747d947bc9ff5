/** `POST /v1/audits:validate`: the submission's checks, answered in the request, nothing queued. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Context } from "hono";
import { AuditConfigSchema } from "../../core/audit-config.ts";
import { SslmemError, isSslmemError } from "../../core/errors.ts";
import type { PointSet } from "../../data/point-set.ts";
import { openPointSet } from "../../data/sources.ts";
import { validateAudit as validate } from "../../engine/validate-audit.ts";
import type { AppEnv, AppServices } from "../context.ts";
import { validationError } from "../../core/problem.ts";
import { fieldErrors } from "../problem-response.ts";
import { isJson } from "./audit-submission.ts";
import { CreateAuditRequestSchema } from "./audits.routes.ts";

type Role = "target" | "reference" | "candidates" | "controls";

async function ownedPath(s: AppServices, tenant: string, role: Role, digest: string): Promise<string> {
  if (!(await s.store.tenantHasBlob(tenant, digest))) {
    throw new SslmemError("blob_not_found", `the ${role} blob ${digest} has not been uploaded; PUT it to /v1/blobs/${digest} first`, {
      errors: [{ path: role, message: "you have not uploaded a blob with this digest", location: "body" }],
    });
  }
  return s.blobs.pathFor(digest);
}

async function openSet(s: AppServices, path: string, role: Role): Promise<PointSet> {
  try {
    return await openPointSet(path, s.config.ingest, { tmpDir: join(s.config.dataDir, "tmp") });
  } catch (e) {
    // The readers' messages do not name the input; the field does (as the audit's error would).
    if (isSslmemError(e)) throw new SslmemError(e.code, `${role}: ${e.message}`, e.details);
    throw e;
  }
}

/** Mounted on a regex route (see validate.index.ts), so the body is validated here with the contract's schema. */
export async function validateHandler(c: Context<AppEnv>): Promise<Response> {
  const s = c.var.services;
  const tenant = c.var.tenant;
  if (!isJson(c.req.header("content-type"))) throw new SslmemError("unsupported_media_type", "send the audit to validate as application/json (the body of POST /v1/audits)");
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw validationError("the request body is not JSON", [{ path: "", message: "malformed JSON", location: "body" }]);
  }
  const parsed = CreateAuditRequestSchema.safeParse(raw);
  if (!parsed.success) throw validationError("the request body is invalid", fieldErrors(parsed.error, "body"));
  const body = parsed.data;
  const config = AuditConfigSchema.parse(body.config ?? {});
  const [target, reference] = await Promise.all([
    ownedPath(s, tenant, "target", body.target).then((p) => readFile(p)),
    ownedPath(s, tenant, "reference", body.reference).then((p) => readFile(p)),
  ]);
  const candidatesPath = await ownedPath(s, tenant, "candidates", body.candidates);
  const controlsPath = body.controls ? await ownedPath(s, tenant, "controls", body.controls) : undefined;
  const candidates = await openSet(s, candidatesPath, "candidates");
  let controls: PointSet | undefined;
  try {
    controls = controlsPath ? await openSet(s, controlsPath, "controls") : undefined;
    const result = validate({ target: new Uint8Array(target), reference: new Uint8Array(reference), candidates, controls }, config);
    return c.json(result, 200);
  } finally {
    await candidates.close();
    await controls?.close();
  }
}
