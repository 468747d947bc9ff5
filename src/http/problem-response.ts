/**
 * Problems as HTTP responses: the app's onError and notFound handlers and the one `defaultHook`
 * that turns every zod validation failure (path, query, headers, body) into a 400 problem with
 * field errors. Every error response of the API leaves through `respondProblem`.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Hook } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { SslmemError, type ErrorCode } from "../core/errors.ts";
import type { AppEnv } from "./context.ts";
import { PROBLEM_CONTENT_TYPE, problemFromError, validationError, type FieldError, type Problem } from "../core/problem.ts";

/** An SslmemError that also sets response headers (Retry-After, WWW-Authenticate, Connection). */
export class HttpProblemError extends SslmemError {
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, headers: Record<string, string>, details?: Record<string, unknown>) {
    super(code, message, details);
    this.name = "HttpProblemError";
    this.headers = headers;
  }
}

export function respondProblem(c: Context<AppEnv>, problem: Problem, headers: Record<string, string> = {}): Response {
  c.set("problemCode", problem.code);
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { "Content-Type": PROBLEM_CONTENT_TYPE, "Cache-Control": "no-store", ...headers },
  });
}

const HTTP_EXCEPTION_CODES: Readonly<Record<number, ErrorCode>> = {
  400: "validation_failed",
  401: "unauthorized",
  404: "not_found",
  408: "request_timeout",
  413: "payload_too_large",
  415: "unsupported_media_type",
};

/** Hono's own exceptions (malformed JSON, unsupported media type…) → SslmemError; others stay. */
export function normalizeError(err: unknown): unknown {
  if (err instanceof HTTPException) {
    const code = HTTP_EXCEPTION_CODES[err.status];
    if (code === "validation_failed") return new SslmemError(code, err.message || "the request is malformed");
    if (code === "unsupported_media_type") {
      return new SslmemError(code, "this endpoint does not accept that Content-Type; see /openapi.json for the media types it takes");
    }
    if (code !== undefined) return new SslmemError(code, err.message || code);
  }
  return err;
}

export const onError: ErrorHandler<AppEnv> = (err, c) => {
  const error = normalizeError(err);
  const problem = problemFromError(error, c.var.requestId);
  if (problem.status >= 500) c.set("failure", err); // logged on the request's line, never sent
  const headers = error instanceof HttpProblemError ? { ...error.headers } : {};
  return respondProblem(c, problem, headers);
};

export const notFound: NotFoundHandler<AppEnv> = (c) =>
  respondProblem(c, problemFromError(new SslmemError("not_found", `no route for ${c.req.method} ${c.req.path}`), c.var.requestId));

const LOCATIONS: Readonly<Record<string, string>> = { param: "path", query: "query", header: "header", json: "body", form: "body", cookie: "cookie" };

export function fieldErrors(error: ZodError, location: string): FieldError[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    // An unknown key is the key's fault: one error per key, at its own path (not the object's).
    if (issue.code === "unrecognized_keys") return issue.keys.map((key) => ({ path: [...path, key].join("."), message: issue.message, location }));
    return [{ path: path.join("."), message: issue.message, location }];
  });
}

/** The one validation hook of every route: a 400 `validation_failed` with the fields at fault. */
export const defaultHook: Hook<unknown, AppEnv, string, Response | undefined> = (result, c) => {
  if (result.success) return undefined;
  const location = LOCATIONS[result.target] ?? String(result.target);
  const err = validationError(`the request ${location === "body" ? "body" : location} is invalid`, fieldErrors(result.error, location));
  return respondProblem(c, problemFromError(err, c.var.requestId));
};

