#!/usr/bin/env node
// Entry point of the `sslmem` command. The sources are TypeScript run through tsx's loader, so
// `npm ci` is the whole build; `node_modules/.bin/sslmem` works right after it.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
