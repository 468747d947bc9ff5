/** Contracts of the content-addressed blob endpoints. */
import { createRoute } from "@hono/zod-openapi";
import { BearerSecurity, BlobSchema, DigestParams, problemResponses } from "../schemas.ts";

const binary = { schema: { type: "string" as const, format: "binary" } };
const location = { Location: { schema: { type: "string" as const }, description: "/v1/blobs/{digest}" } };

export const putBlob = createRoute({
  method: "put",
  path: "/v1/blobs/{digest}",
  tags: ["blobs"],
  summary: "Upload a blob under its SHA-256",
  description:
    "Streams the raw body to disk while hashing it; the blob is published under its digest only when the bytes hash " +
    "to the digest in the path. Idempotent: uploading the same bytes again is 200. HEAD first to skip uploads the " +
    "server already has for you.",
  security: BearerSecurity,
  request: {
    params: DigestParams,
    body: { required: true, content: { "application/octet-stream": binary } },
  },
  responses: {
    200: { description: "You had already uploaded these bytes.", headers: location, content: { "application/json": { schema: BlobSchema } } },
    201: { description: "Stored.", headers: location, content: { "application/json": { schema: BlobSchema } } },
    ...problemResponses(400, 401, 408, 413, 422, 429, 500),
  },
});

const blobHeaders = {
  "Content-Length": { schema: { type: "integer" as const }, description: "Size of the blob in bytes." },
  ETag: { schema: { type: "string" as const }, description: "The quoted digest." },
};

export const getBlob = createRoute({
  method: "get",
  path: "/v1/blobs/{digest}",
  tags: ["blobs"],
  summary: "Download a blob you uploaded",
  security: BearerSecurity,
  request: { params: DigestParams },
  responses: {
    200: { description: "The bytes.", headers: blobHeaders, content: { "application/octet-stream": binary } },
    ...problemResponses(400, 401, 404, 500),
  },
});

/** Documentation only: Hono answers HEAD with the GET handler (which skips the body). */
export const headBlob = createRoute({
  method: "head",
  path: "/v1/blobs/{digest}",
  tags: ["blobs"],
  summary: "Does the server have this blob for you?",
  description: "200 with Content-Length when you uploaded it, 404 otherwise (also when another tenant did).",
  security: BearerSecurity,
  request: { params: DigestParams },
  responses: {
    200: { description: "You have this blob.", headers: blobHeaders },
    404: { description: "You have no blob with this digest." },
    401: { description: "Missing or invalid bearer token." },
  },
});

export type PutBlobRoute = typeof putBlob;
export type GetBlobRoute = typeof getBlob;
