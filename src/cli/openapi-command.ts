/** `sslmem openapi`: prints the OpenAPI 3.1 document of the HTTP API (the same as openapi/openapi.json). */
import { buildApiDocument, serializeDocument } from "../http/openapi.ts";
import { EXIT } from "./errors.ts";

export async function openapiCommand(): Promise<number> {
  process.stdout.write(serializeDocument(buildApiDocument()));
  return EXIT.ok;
}
