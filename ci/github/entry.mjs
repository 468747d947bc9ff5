#!/usr/bin/env node
// Entry point of the GitHub Action (action.yml): the TypeScript sources run through tsx, as
// bin/sslmem.js does; the CLI runs in this process and its exit code is the step's.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../../src/cli/main.ts");
const { runGithubAction } = await import("../../src/ci/github-action.ts");
const result = await runGithubAction(process.env, main);
process.exitCode = result.exitCode;
