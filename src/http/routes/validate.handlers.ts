/** `POST /v1/audits:validate`: the submission's checks, answered in the request, nothing queued. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Context } from "hono";
import { AuditConfigSchema } from "../../core/audit-config.ts";
import { SslmemError, isSslmemError } from "../../core/errors.ts";
import type { PointSet } from "../../data/point-set.ts";
import { openPointSet } from "../../data/sources.ts";
import { UnitMemConfigSchema } from "../../core/unitmem-report.ts";
import { unitMemNeedsOnnx } from "../../engine/units.ts";
import { validateAudit as validate, validateMixedAudit, validateTfjsModel, validateUnitMemAudit } from "../../engine/validate-audit.ts";
import type { AppEnv, AppServices } from "../context.ts";
import { validationError } from "../../core/problem.ts";
import { fieldErrors } from "../problem-response.ts";
import { isJson } from "./audit-submission.ts";
import { SubmitAuditRequestSchema, type UnitMemAuditRequest } from "./audits.routes.ts";

type Role = "target" | "reference" | "candidates" | "controls" | "encoder";

const DIGEST = /^sha256:[0-9a-f]{64}$/;

async function ownedPath(s: AppServices, tenant: string, role: Role, digest: string): Promise<string> {
  if (!DIGEST.test(digest)) {
    // A reference (oci://, models:/, hf://, https://) is fetched when the audit runs, not here.
    throw validationError("validate checks uploaded blobs; a reference is fetched when the audit runs", [
      { path: role, message: "give the blob digest (PUT /v1/blobs/sha256:…) to validate it", location: "body" },
    ]);
  }
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
  const parsed = SubmitAuditRequestSchema.safeParse(raw);
  if (!parsed.success) throw validationError("the request body is invalid", fieldErrors(parsed.error, "body"));
  const body = parsed.data;
  if (body.kind === "unitmem") return c.json(await validateUnitMem(s, tenant, body), 200);
  const config = AuditConfigSchema.parse(body.config ?? {});
  const [targetPath, referencePath] = await Promise.all([ownedPath(s, tenant, "target", body.target), ownedPath(s, tenant, "reference", body.reference)]);
  const [targetTfjs, referenceTfjs] = await Promise.all([tfjsModel(targetPath, "target"), tfjsModel(referencePath, "reference")]);
  const candidatesPath = await ownedPath(s, tenant, "candidates", body.candidates);
  const controlsPath = body.controls ? await ownedPath(s, tenant, "controls", body.controls) : undefined;
  const candidates = await openSet(s, candidatesPath, "candidates");
  let controls: PointSet | undefined;
  try {
    controls = controlsPath ? await openSet(s, controlsPath, "controls") : undefined;
    const onnx = async (path: string) => new Uint8Array(await readFile(path));
    if (targetTfjs || referenceTfjs) {
      const sides = { target: targetTfjs ?? (await onnx(targetPath)), reference: referenceTfjs ?? (await onnx(referencePath)) };
      return c.json(validateMixedAudit(sides, { candidates, controls }, config), 200);
    }
    const result = validate({ target: await onnx(targetPath), reference: await onnx(referencePath), candidates, controls }, config);
    return c.json(result, 200);
  } finally {
    await candidates.close();
    await controls?.close();
  }
}

/** A TF.js model blob's checks, or null for any other content (an ONNX model is checked as one). */
async function tfjsModel(path: string, role: Role) {
  try {
    return await validateTfjsModel(path);
  } catch (e) {
    if (isSslmemError(e)) throw new SslmemError(e.code, `${role}: ${e.message}`, e.details);
    throw e;
  }
}

async function validateUnitMem(s: AppServices, tenant: string, body: UnitMemAuditRequest) {
  const config = UnitMemConfigSchema.parse(body.config ?? {});
  const encoderPath = await ownedPath(s, tenant, "encoder", body.encoder);
  if (await tfjsModel(encoderPath, "encoder")) {
    throw unitMemNeedsOnnx();
  }
  const encoder = new Uint8Array(await readFile(encoderPath));
  const candidates = await openSet(s, await ownedPath(s, tenant, "candidates", body.candidates), "candidates");
  try {
    return validateUnitMemAudit({ encoder, candidates }, config);
  } finally {
    await candidates.close();
  }
}
