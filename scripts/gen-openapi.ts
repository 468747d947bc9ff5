// Writes openapi/openapi.json from the route contracts (`npm run openapi`). The committed file is
// checked against the code by test/http/openapi.test.ts.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildApiDocument, serializeDocument } from "../src/http/openapi.ts";

export const OPENAPI_FILE = join(dirname(fileURLToPath(import.meta.url)), "..", "openapi", "openapi.json");

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(dirname(OPENAPI_FILE), { recursive: true });
  writeFileSync(OPENAPI_FILE, serializeDocument(buildApiDocument()));
  console.log(`wrote ${OPENAPI_FILE}`);
}
