/**
 * RFC 9457 problem details: the one error shape of the API (responses and a failed audit's
 * `error`). Pure functions, no HTTP framework: the job runner builds a failed audit's problem too.
 *
 * Rule: a 5xx problem never carries a message, a stack or a path — only its code and the request
 * id to find the log line with the details.
 */
import { ERROR_CODES, SslmemError, isSslmemError, type ErrorCode } from "./errors.ts";

export const PROBLEM_TYPE_BASE = "https://sslmem.dev/problems/";
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export interface FieldError {
  /** Dotted path of the offending field, e.g. `config.views`. */
  path: string;
  message: string;
  /** Where the field is: body, query, path or header. */
  location?: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  requestId?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

const TITLES: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

const RESERVED = new Set(["type", "title", "status", "code", "detail", "requestId", "instance"]);

export function problemType(code: ErrorCode): string {
  return PROBLEM_TYPE_BASE + code;
}

export function titleFor(status: number): string {
  return TITLES[status] ?? (status >= 500 ? "Internal Server Error" : "Error");
}

/** The generic body of every 5xx: what failed is in the log under `requestId`, not here. */
export function serverErrorProblem(status: number, requestId?: string): Problem {
  const code: ErrorCode = status === 503 ? "unavailable" : "internal";
  return {
    type: problemType(code),
    title: titleFor(status),
    status,
    code,
    ...(status === 503 ? { detail: "the service is temporarily unavailable; retry later" } : {}),
    ...(requestId !== undefined ? { requestId } : {}),
  };
}

/** Any thrown value → its problem. Non-SslmemError values are always a generic 500. */
export function problemFromError(err: unknown, requestId?: string): Problem {
  if (!isSslmemError(err)) return serverErrorProblem(500, requestId);
  const status = ERROR_CODES[err.code];
  if (status >= 500) return serverErrorProblem(status, requestId);
  const problem: Problem = {
    type: problemType(err.code),
    title: titleFor(status),
    status,
    code: err.code,
    detail: err.message,
  };
  for (const [key, value] of Object.entries(err.details ?? {})) {
    if (!RESERVED.has(key)) problem[key] = value;
  }
  if (requestId !== undefined) problem.requestId = requestId;
  return problem;
}

/**
 * The `error` of a failed audit. A user-actionable SslmemError keeps its code and message; any
 * other failure is `engine_failure` (or the 5xx code) with a message that points at the log.
 */
export function auditFailureProblem(err: unknown, auditId: string): Problem {
  if (isSslmemError(err) && ERROR_CODES[err.code] < 500) {
    const { requestId: _ignored, ...problem } = problemFromError(err);
    return problem;
  }
  const code: ErrorCode = isSslmemError(err) ? err.code : "engine_failure";
  return {
    type: problemType(code),
    title: titleFor(ERROR_CODES[code]),
    status: ERROR_CODES[code],
    code,
    detail: `the audit failed inside the service; the server log has the details under audit ${auditId}`,
  };
}

export function validationError(message: string, errors: FieldError[]): SslmemError {
  return new SslmemError("validation_failed", message, { errors });
}
