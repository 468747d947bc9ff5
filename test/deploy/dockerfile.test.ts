/**
 * The Dockerfile, checked on its parsed form (Docker cannot run here): two targets, the right
 * bases, non-root, tini, a HEALTHCHECK that really works, `serve` by default, no secrets, Node 20,
 * compilers only in builder stages, and install-script handling consistent with package.json.
 * The HEALTHCHECK command and the ENTRYPOINT+CMD are also executed against this checkout.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DockerfileSyntaxError,
  chainInstructions,
  effective,
  effectiveEnv,
  externalBase,
  findStage,
  parseAssignments,
  parseDockerfile,
  referencedStages,
  splitWords,
  stageChain,
  type Dockerfile,
  type Stage,
} from "./dockerfile-parser.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const TARGETS = ["cpu", "gpu"] as const;
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  allowScripts: Record<string, boolean>;
};

describe("dockerfile parser", () => {
  it("joins continuation lines, drops comment lines inside them, keeps line numbers", () => {
    const df = parseDockerfile(["# syntax=docker/dockerfile:1", "", "FROM alpine:3 AS Base", "RUN a \\", "# dropped", "  && b \\", "", "  && c", "USER 1:1"].join("\n"));
    assert.deepEqual(df.directives, { syntax: "docker/dockerfile:1" });
    const [stage] = df.stages;
    assert.equal(stage.name, "base");
    assert.deepEqual(
      stage.instructions.map((i) => [i.keyword, i.args, i.line]),
      [
        ["FROM", "alpine:3 AS Base", 3],
        ["RUN", "a   && b   && c", 4],
        ["USER", "1:1", 9],
      ],
    );
  });

  it("reads options, exec form and HEALTHCHECK CMD; shell form stays a string", () => {
    const df = parseDockerfile(
      ['FROM x', 'COPY --from=b --chown=1:1 a /b', 'RUN --mount=type=cache,target=/c make', 'CMD ["serve", "--x"]', "ENTRYPOINT node a.js", 'HEALTHCHECK --interval=5s CMD ["node", "-e", "1"]'].join("\n"),
    );
    const [, copy, run, cmd, entry, hc] = df.stages[0].instructions;
    assert.deepEqual(copy.flags, { from: "b", chown: "1:1" });
    assert.equal(copy.args, "a /b");
    assert.deepEqual(run.flags, { mount: "type=cache,target=/c" });
    assert.deepEqual(cmd.exec, ["serve", "--x"]);
    assert.equal(entry.exec, undefined);
    assert.deepEqual(hc.flags, { interval: "5s" });
    assert.deepEqual(hc.exec, ["node", "-e", "1"]);
  });

  it("substitutes global ARG defaults in FROM and follows stage inheritance", () => {
    const df = parseDockerfile(["ARG IMG=node:20-slim", "ARG TAG", "FROM ${IMG} AS one", "USER 5", "FROM one AS two", "FROM ${TAG:-busybox}"].join("\n"));
    const two = findStage(df, "TWO")!;
    assert.equal(df.stages[0].from, "node:20-slim");
    assert.deepEqual(stageChain(df, two).map((s) => s.name), ["one", "two"]);
    assert.equal(externalBase(df, two), "node:20-slim");
    assert.equal(effective(df, two, "USER")?.args, "5");
    assert.equal(df.stages[2].from, "busybox");
  });

  it("parses ENV and ARG forms", () => {
    assert.deepEqual(parseAssignments("ENV", 'A=1 B="two words" C=a\\ b'), [
      ["A", "1"],
      ["B", "two words"],
      ["C", "a b"],
    ]);
    assert.deepEqual(parseAssignments("ENV", "LEGACY some value"), [["LEGACY", "some value"]]);
    assert.deepEqual(parseAssignments("ARG", "NAME"), [["NAME", undefined]]);
    assert.deepEqual(splitWords(`a 'b c' "d\\"e"`), ["a", "b c", 'd"e']);
  });

  it("refuses what it would misread", () => {
    assert.throws(() => parseDockerfile("FROM x\nRUN <<EOF\necho\nEOF"), DockerfileSyntaxError);
    assert.throws(() => parseDockerfile("RUN x"), DockerfileSyntaxError);
    assert.throws(() => parseDockerfile("FROM x\nRUN a \\"), DockerfileSyntaxError);
    assert.throws(() => parseDockerfile("FROM x\nHEALTHCHECK curl"), DockerfileSyntaxError);
  });
});

const df: Dockerfile = parseDockerfile(readFileSync(join(root, "Dockerfile"), "utf8"));
const target = (name: string): Stage => {
  const s = findStage(df, name);
  assert.ok(s, `Dockerfile has no stage named '${name}'`);
  return s;
};
const chainRuns = (s: Stage): string[] => chainInstructions(df, s).filter((i) => i.keyword === "RUN").map((i) => i.args);
/** The stage that provides node_modules to a final stage. */
const nodeModulesSource = (s: Stage): Stage => {
  const copy = s.instructions.find((i) => i.keyword === "COPY" && i.flags.from && /\/node_modules$/.test(splitWords(i.args)[0]));
  assert.ok(copy, `stage ${s.name} copies no node_modules from a builder`);
  return target(copy.flags.from);
};
const nodeMajor = (image: string): number | undefined => {
  const m = /^(?:docker\.io\/)?(?:library\/)?node:(\d+)/.exec(image);
  return m ? Number(m[1]) : undefined;
};

describe("Dockerfile", () => {
  it("has the cpu and gpu targets, and the cpu one is the default (last) stage", () => {
    for (const t of TARGETS) target(t);
    assert.equal(df.stages.at(-1)?.name, "cpu");
    const unused = df.stages.filter((s) => s.name && !TARGETS.includes(s.name as never) && !referencedStages(df).has(s.name));
    assert.deepEqual(unused.map((s) => s.name), [], "every non-target stage should feed a target");
  });

  it("builds gpu on an NVIDIA CUDA 12 runtime image with cuDNN, and its builder on the same base", () => {
    const base = externalBase(df, target("gpu"));
    assert.match(base, /^nvidia\/cuda:12\.\d+(\.\d+)?-cudnn\d*-runtime-ubuntu\d{2}\.\d{2}$/);
    // Native addons must be compiled against the glibc they run on.
    assert.equal(externalBase(df, nodeModulesSource(target("gpu"))), base);
  });

  it("runs Node 20 everywhere: the cpu base and the node binary copied into the gpu stages", () => {
    assert.equal(nodeMajor(externalBase(df, target("cpu"))), 20);
    assert.match(externalBase(df, target("cpu")), /-slim$/);
    for (const name of ["gpu", nodeModulesSource(target("gpu")).name!]) {
      const copy = target(name).instructions.find((i) => i.keyword === "COPY" && splitWords(i.args)[0] === "/usr/local/bin/node");
      assert.ok(copy?.flags.from, `${name} must copy the node binary from a Node image stage`);
      assert.equal(nodeMajor(externalBase(df, target(copy.flags.from))), 20, `${name} copies node from a non-20 image`);
    }
    for (const s of df.stages) {
      const major = nodeMajor(s.from);
      if (major !== undefined) assert.equal(major, 20, `stage ${s.name ?? s.index} is built on ${s.from}`);
    }
    assert.match(readFileSync(join(root, "package.json"), "utf8"), /"node": ">=20/);
  });

  for (const t of TARGETS) {
    describe(`target ${t}`, () => {
      const stage = () => target(t);

      it("runs as a numeric non-root user", () => {
        const user = effective(df, stage(), "USER")?.args;
        assert.ok(user, "no USER instruction");
        const m = /^(\d+)(?::(\d+))?$/.exec(user);
        assert.ok(m, `USER must be numeric (uid[:gid]) so runAsNonRoot can verify it, got '${user}'`);
        assert.notEqual(Number(m[1]), 0);
        assert.notEqual(Number(m[2] ?? 1), 0);
        // The user exists in the image (useradd in this stage with the same uid).
        assert.ok(chainRuns(stage()).some((r) => new RegExp(`useradd[^&]*--uid ${m[1]}\\b`).test(r)), `uid ${m[1]} is not created`);
      });

      it("starts under tini as PID 1 with node bin/sslmem.js, and `serve` as the command", () => {
        const entry = effective(df, stage(), "ENTRYPOINT")?.exec;
        assert.ok(entry, "ENTRYPOINT must be in exec form");
        assert.match(entry[0], /(^|\/)(tini|dumb-init)$/);
        assert.deepEqual(entry.slice(1), ["--", "node", "bin/sslmem.js"]);
        assert.ok(chainRuns(stage()).some((r) => /apt-get install[^&]*\btini\b/.test(r)), "tini is not installed in the image");
        assert.deepEqual(effective(df, stage(), "CMD")?.exec, ["serve"]);
        assert.equal(effective(df, stage(), "WORKDIR")?.args, "/app");
      });

      it("copies the entry point from the build context and the compiled dist/ from its builder, not the sources", () => {
        const copies = stage()
          .instructions.filter((i) => i.keyword === "COPY" && !i.flags.from)
          .map((i) => splitWords(i.args));
        const copied = new Set(copies.flatMap((w) => w.slice(0, -1)));
        for (const needed of ["bin", "package.json", "package-lock.json"]) assert.ok(copied.has(needed), `${needed} is not copied`);
        assert.ok(!copied.has("src"), "the image runs dist/; the TypeScript sources stay in the builder");
        const binCopy = copies.find((w) => w[0] === "bin")!;
        assert.equal(posix.resolve("/app", binCopy.at(-1)!), "/app/bin");
        const builder = nodeModulesSource(stage());
        const dist = stage().instructions.find((i) => i.keyword === "COPY" && i.flags.from === builder.name && splitWords(i.args)[0] === "/app/dist");
        assert.ok(dist, `dist/ must come from ${builder.name}, the stage that compiled it`);
        assert.equal(posix.resolve("/app", splitWords(dist.args).at(-1)!), "/app/dist");
      });

      it("has a HEALTHCHECK that uses node (no curl) on /livez", () => {
        const hc = effective(df, stage(), "HEALTHCHECK");
        assert.ok(hc?.exec, "HEALTHCHECK CMD must be in exec form");
        assert.equal(hc.exec[0], "node");
        assert.ok(hc.exec.join(" ").includes("/livez"));
        assert.ok(hc.flags["start-period"], "give model warm-up a start period");
      });

      it("sets the service defaults and declares /data", () => {
        const env = effectiveEnv(df, stage());
        assert.equal(env.get("SSLMEM_DATA_DIR"), "/data");
        assert.equal(env.get("SSLMEM_HOST"), "0.0.0.0");
        assert.equal(env.get("NODE_ENV"), "production");
        const volumes = chainInstructions(df, stage()).filter((i) => i.keyword === "VOLUME");
        assert.ok(volumes.some((v) => (v.exec ?? splitWords(v.args)).includes("/data")));
        const exposed = chainInstructions(df, stage())
          .filter((i) => i.keyword === "EXPOSE")
          .flatMap((i) => splitWords(i.args));
        assert.ok(exposed.includes("8080"));
        assert.ok(chainRuns(stage()).some((r) => /chown 10001:10001 \/data/.test(r)), "/data must be writable by the service user");
      });

      it("carries no secrets in ENV or ARG", () => {
        const secretName = /(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|DATABASE_URL|^SSLMEM_QUEUE$)/i;
        const credentialsInUrl = /:\/\/[^/\s:@]+:[^/\s@]+@/;
        const all = [...df.globalArgs.entries(), ...chainInstructions(df, stage()).flatMap((i) => (i.keyword === "ENV" || i.keyword === "ARG" ? parseAssignments(i.keyword, i.args) : []))];
        for (const [k, v] of all) {
          assert.doesNotMatch(k, secretName, `${k} looks like a secret; pass it at run time`);
          if (v) assert.doesNotMatch(v, credentialsInUrl, `${k} embeds credentials`);
        }
      });

      it("has no compilers or npm in the runtime image", () => {
        for (const r of chainRuns(stage())) {
          assert.doesNotMatch(r, /apt-get install[^&]*\s(g\+\+|gcc|make|python3|build-essential)(?=\s|$)/, "build tools belong in a builder stage");
          assert.doesNotMatch(r, /\bnpm (ci|install|rebuild)\b/, "dependencies are installed in a builder stage");
        }
      });

      it("takes production dependencies from a builder that ran npm ci (building dist/) then npm prune --omit=dev, with npm 11", () => {
        const builder = nodeModulesSource(stage());
        assert.notEqual(builder.name, t);
        const builderRuns = chainRuns(builder);
        const ci = builderRuns.findIndex((r) => /\bnpm ci\b/.test(r));
        assert.ok(ci >= 0, "npm ci");
        // `npm ci` with the dev dependencies runs `prepare` (tsc → dist/); the prune that follows
        // leaves production dependencies only.
        const ciToEnd = builderRuns.slice(ci).join(" && ");
        assert.match(ciToEnd, /\bnpm ci\b.*&& npm prune --omit=dev\b/, "npm prune --omit=dev after npm ci");
        assert.equal(pkg.scripts.prepare, "npm run build", "npm ci builds dist/ through prepare");
        const copiedSources = builder.instructions.filter((i) => i.keyword === "COPY" && !i.flags.from).flatMap((i) => splitWords(i.args).slice(0, -1));
        for (const needed of ["src", "tsconfig.json", "tsconfig.build.json"]) assert.ok(copiedSources.includes(needed), `the builder needs ${needed} to compile dist/`);
        const copyIndex = (name: string) => builder.instructions.findIndex((i) => i.keyword === "COPY" && splitWords(i.args).includes(name));
        const ciIndex = builder.instructions.findIndex((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args));
        assert.ok(copyIndex("src") < ciIndex, "the sources are copied before npm ci compiles them");
        // package.json#allowScripts is an npm 11 policy; npm 10 (bundled with Node 20) ignores it.
        const npmUpgrade = builderRuns.findIndex((r) => /npm install -g npm@\$\{NPM_VERSION\}/.test(r));
        assert.ok(npmUpgrade >= 0 && npmUpgrade <= ci, "npm 11 must be installed before npm ci");
        assert.ok(builderRuns.some((r) => /apt-get install[^&]*\sg\+\+(?=\s|$)/.test(r)), "the builder needs a compiler for better-sqlite3's fallback build");
      });
    });
  }

  it("pins npm 11 and keeps tsx and TypeScript out of the runtime dependencies", () => {
    assert.match(df.globalArgs.get("NPM_VERSION") ?? "", /^11\.\d+\.\d+$/);
    for (const dev of ["tsx", "typescript"]) {
      assert.ok(pkg.devDependencies[dev], `${dev} is a dev dependency (tests, scripts, the build)`);
      assert.equal(pkg.dependencies[dev], undefined, `bin/sslmem.js runs dist/; ${dev} is not needed at run time`);
    }
  });

  it("keeps the cpu image CPU-only: ONNX Runtime's download skipped, GPU scripts denied by allowScripts", () => {
    const builder = nodeModulesSource(target("cpu"));
    assert.equal(effectiveEnv(df, builder).get("ONNXRUNTIME_NODE_INSTALL"), "skip");
    assert.equal(pkg.allowScripts["onnxruntime-node"], false);
    assert.equal(pkg.allowScripts["@tensorflow/tfjs-node-gpu"], false);
    assert.ok(!chainRuns(builder).some((r) => /dangerously-allow-all-scripts|npm rebuild/.test(r)));
  });

  it("runs the ONNX Runtime CUDA and tfjs-node-gpu install scripts in the gpu builder, and only those", () => {
    const builder = nodeModulesSource(target("gpu"));
    const rebuild = chainRuns(builder).find((r) => /\bnpm rebuild\b/.test(r));
    assert.ok(rebuild, "the gpu builder must rebuild the packages whose scripts allowScripts denies");
    // onnxruntime-node 1.30's install script: ONNXRUNTIME_NODE_INSTALL=cuda12 fetches the CUDA EP.
    assert.match(rebuild, /ONNXRUNTIME_NODE_INSTALL=cuda12 /);
    const words = splitWords(rebuild.slice(rebuild.indexOf("npm rebuild")).split("&&")[0]);
    const named = words.slice(2).filter((w) => !w.startsWith("-"));
    assert.deepEqual(named.sort(), ["@tensorflow/tfjs-node-gpu", "onnxruntime-node"]);
    assert.ok(words.includes("--dangerously-allow-all-scripts"), "npm 11 skips denied scripts without it");
    for (const name of named) {
      assert.ok(pkg.dependencies[name] ?? pkg.optionalDependencies?.[name], `${name} is not a dependency`);
      assert.equal(pkg.allowScripts[name], false, `${name} is denied by allowScripts, which is why it is rebuilt here`);
    }
    assert.match(rebuild, /test -f [^&]*libonnxruntime_providers_cuda\.so/, "the build must fail when the CUDA provider is missing");
  });

  it("sends only what the image copies in the build context (.dockerignore allow-list)", () => {
    const lines = readFileSync(join(root, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    assert.equal(lines[0], "*", ".dockerignore should start by excluding everything");
    const included = lines.filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/\/$/, ""));
    const contextSources = df.stages.flatMap((s) => s.instructions.filter((i) => (i.keyword === "COPY" || i.keyword === "ADD") && !i.flags.from).flatMap((i) => splitWords(i.args).slice(0, -1)));
    for (const src of new Set(contextSources)) {
      assert.ok(included.includes(src.replace(/^\.\//, "").replace(/\/$/, "")), `COPY ${src} is excluded by .dockerignore`);
    }
    for (const never of [".env", "data", "node_modules", ".git"]) assert.ok(!included.includes(never), `${never} must stay out of the context`);
  });
});

/** Runs `argv` with `env`, resolving to the exit code and output. */
function run(argv: string[], env: Record<string, string>, cwd = root): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

describe("Dockerfile commands, run against this checkout", () => {
  let server: Server;
  let status = 200;
  let livePort = 0;
  let closedPort = 0;
  before(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === "/livez" ? status : 404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    livePort = (server.address() as AddressInfo).port;
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const healthcheck = () => effective(df, target("cpu"), "HEALTHCHECK")!.exec!;

  it("uses the same HEALTHCHECK in both targets", () => {
    assert.deepEqual(effective(df, target("gpu"), "HEALTHCHECK")!.exec, healthcheck());
  });

  it("HEALTHCHECK passes when serve's /livez answers 200 and fails on 503", async () => {
    status = 200;
    assert.equal((await run(healthcheck(), { SSLMEM_PORT: String(livePort), SSLMEM_WORKER_HEALTH_PORT: String(closedPort) })).code, 0);
    status = 503;
    assert.equal((await run(healthcheck(), { SSLMEM_PORT: String(livePort), SSLMEM_WORKER_HEALTH_PORT: String(closedPort) })).code, 1);
  });

  it("HEALTHCHECK falls through to the worker's health port, and fails when nothing listens", async () => {
    status = 200;
    assert.equal((await run(healthcheck(), { SSLMEM_PORT: String(closedPort), SSLMEM_WORKER_HEALTH_PORT: String(livePort) })).code, 0);
    assert.equal((await run(healthcheck(), { SSLMEM_PORT: String(closedPort), SSLMEM_WORKER_HEALTH_PORT: String(closedPort) })).code, 1);
  });

  // The default CMD and the alternative one (`docker run … sslmem:gpu worker`, Kubernetes args).
  for (const command of ["CMD", "worker"]) {
    const expected = command === "CMD" ? "serve" : command;
    it(`ENTRYPOINT + ${command} runs \`sslmem ${expected}\` (checked with --help)`, async () => {
      const entry = effective(df, target("cpu"), "ENTRYPOINT")!.exec!;
      const afterInit = entry.slice(entry.indexOf("--") + 1);
      const args = command === "CMD" ? effective(df, target("cpu"), "CMD")!.exec! : [command];
      const argv = [afterInit[0] === "node" ? process.execPath : afterInit[0], ...afterInit.slice(1), ...args, "--help"];
      const { code, out } = await run(argv, {});
      assert.equal(code, 0, out);
      assert.match(out, new RegExp(`^sslmem ${expected} `));
    });
  }
});
