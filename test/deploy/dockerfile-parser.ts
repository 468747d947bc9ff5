/**
 * A small Dockerfile parser for tests: Docker cannot run where this repository is tested, so the
 * Dockerfile's properties are checked on its parsed form. It follows the Dockerfile reference for
 * what the repository's Dockerfile uses — parser directives, comments, line continuations (comment
 * lines inside a continuation are dropped), `--flag` options, exec (JSON) and shell forms, ENV/ARG
 * forms, stages (`FROM image AS name`, names case-insensitive) and ARG substitution in FROM — and
 * rejects what it does not understand (heredocs) instead of misreading it.
 */

export interface Instruction {
  /** Upper-cased keyword: FROM, RUN, COPY, ENV, … */
  keyword: string;
  /** `--name=value` options before the arguments (`--name` alone maps to "true"). */
  flags: Record<string, string>;
  /** The arguments after the options, continuation lines joined. */
  args: string;
  /** Exec form (`["a", "b"]`) when the arguments are a JSON array of strings. */
  exec?: string[];
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface Stage {
  index: number;
  /** Lower-cased `AS` name, if any. */
  name?: string;
  /** The FROM reference with global ARG defaults substituted. */
  from: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  directives: Record<string, string>;
  /** ARG instructions before the first FROM (their defaults are visible to FROM lines). */
  globalArgs: Map<string, string | undefined>;
  stages: Stage[];
}

const FLAGGED = new Set(["FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"]);
const EXEC_CAPABLE = new Set(["RUN", "CMD", "ENTRYPOINT", "SHELL", "VOLUME"]);

export class DockerfileSyntaxError extends Error {}

/** Splits `text` into shell-like words, honouring single/double quotes and backslash escapes. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let current = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) throw new DockerfileSyntaxError(`unterminated ${quote} quote in: ${text}`);
  if (inWord) words.push(current);
  return words;
}

/** `${NAME}`, `${NAME:-default}`, `${NAME:+alt}` and `$NAME`, from `vars` (unset → empty). */
export function substitute(text: string, vars: ReadonlyMap<string, string | undefined>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, braced, op, word, bare) => {
    const value = vars.get(braced ?? bare);
    if (op === "-") return value ? value : word;
    if (op === "+") return value ? word : "";
    return value ?? "";
  });
}

/** ENV/ARG key-value pairs: `K=V K2="v 2"`, or the legacy `ENV K the rest`. */
export function parseAssignments(keyword: string, args: string): Array<[string, string | undefined]> {
  const words = splitWords(args);
  if (keyword === "ENV" && words.length > 0 && !words[0].includes("=")) {
    const key = words[0];
    return [[key, args.trim().slice(key.length).trim()]];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq < 0) {
      if (keyword === "ENV") throw new DockerfileSyntaxError(`ENV needs KEY=VALUE pairs: ${args}`);
      return [w, undefined];
    }
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

function parseExec(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === "string") ? v : undefined;
  } catch {
    return undefined; // Docker treats a malformed array as shell form, and so do we.
  }
}

function parseInstruction(text: string, line: number): Instruction {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text.trim());
  if (!m) throw new DockerfileSyntaxError(`line ${line}: empty instruction`);
  const keyword = m[1].toUpperCase();
  let rest = m[2];
  const flags: Record<string, string> = {};
  if (FLAGGED.has(keyword)) {
    for (;;) {
      const f = /^--([A-Za-z][A-Za-z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(rest);
      if (!f) break;
      flags[f[1]] = f[2] ?? "true";
      rest = rest.slice(f[0].length);
    }
  }
  const args = rest.trim();
  if ((keyword === "RUN" || keyword === "COPY" || keyword === "ADD") && /(^|\s)<<-?["']?[A-Za-z_]/.test(args)) {
    throw new DockerfileSyntaxError(`line ${line}: heredocs are not supported by this parser`);
  }
  const instruction: Instruction = { keyword, flags, args, line };
  if (EXEC_CAPABLE.has(keyword)) {
    const exec = parseExec(args);
    if (exec) instruction.exec = exec;
  }
  if (keyword === "HEALTHCHECK") {
    const hc = /^CMD\s+([\s\S]*)$/i.exec(args);
    if (hc) {
      const exec = parseExec(hc[1].trim());
      if (exec) instruction.exec = exec;
    } else if (args.toUpperCase() !== "NONE") {
      throw new DockerfileSyntaxError(`line ${line}: HEALTHCHECK takes CMD … or NONE`);
    }
  }
  return instruction;
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const directives: Record<string, string> = {};
  let i = 0;
  // Parser directives: `# key=value` lines at the very top, before any blank line or instruction.
  for (; i < lines.length; i++) {
    const d = /^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$/.exec(lines[i]);
    if (!d) break;
    directives[d[1].toLowerCase()] = d[2];
  }
  const escape = directives.escape ?? "\\";
  if (escape !== "\\" && escape !== "`") throw new DockerfileSyntaxError(`escape must be \\ or \`, not ${escape}`);

  const instructions: Instruction[] = [];
  let buffer: string | null = null;
  let startLine = 0;
  for (; i < lines.length; i++) {
    const raw = lines[i];
    const trimmed = raw.trim();
    if (trimmed.startsWith("#")) continue; // comments, also between continuation lines
    if (buffer === null) {
      if (trimmed === "") continue;
      buffer = "";
      startLine = i + 1;
    } else if (trimmed === "") {
      continue; // an empty continuation line (deprecated by Docker, still accepted)
    }
    const body = raw.replace(/\s+$/, "");
    if (body.endsWith(escape)) {
      buffer += body.slice(0, -1);
      continue;
    }
    buffer += body;
    instructions.push(parseInstruction(buffer, startLine));
    buffer = null;
  }
  if (buffer !== null) throw new DockerfileSyntaxError(`line ${startLine}: continuation runs past the end of the file`);

  const globalArgs = new Map<string, string | undefined>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const words = splitWords(ins.args);
      if (!(words.length === 1 || (words.length === 3 && words[1].toUpperCase() === "AS"))) {
        throw new DockerfileSyntaxError(`line ${ins.line}: FROM image [AS name]`);
      }
      stages.push({ index: stages.length, from: substitute(words[0], globalArgs), name: words[2]?.toLowerCase(), instructions: [ins] });
    } else if (stages.length === 0) {
      if (ins.keyword !== "ARG") throw new DockerfileSyntaxError(`line ${ins.line}: only ARG may precede the first FROM`);
      for (const [k, v] of parseAssignments("ARG", ins.args)) globalArgs.set(k, v);
    } else {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  if (stages.length === 0) throw new DockerfileSyntaxError("no FROM instruction");
  return { directives, globalArgs, stages };
}

export function findStage(df: Dockerfile, name: string): Stage | undefined {
  return df.stages.find((s) => s.name === name.toLowerCase());
}

/**
 * The stage and the stages it is built FROM, root first. A FROM that names an earlier stage
 * inherits that stage's filesystem and image config; anything else is an external image.
 */
export function stageChain(df: Dockerfile, stage: Stage): Stage[] {
  const chain = [stage];
  for (let s = stage; ; ) {
    const parent = df.stages.find((p) => p.index < s.index && p.name === s.from.toLowerCase());
    if (!parent) return chain;
    chain.unshift(parent);
    s = parent;
  }
}

/** The external image a stage ultimately builds on (with global ARG defaults substituted). */
export function externalBase(df: Dockerfile, stage: Stage): string {
  return stageChain(df, stage)[0].from;
}

/** Every instruction the stage's image config inherits, root stage first. */
export function chainInstructions(df: Dockerfile, stage: Stage): Instruction[] {
  return stageChain(df, stage).flatMap((s) => s.instructions);
}

/** The last instruction with `keyword` along the chain (USER, CMD, ENTRYPOINT, … are last-wins). */
export function effective(df: Dockerfile, stage: Stage, keyword: string): Instruction | undefined {
  return chainInstructions(df, stage)
    .filter((i) => i.keyword === keyword)
    .at(-1);
}

/** The ENV variables the stage's image carries (set in this file; the external base's are unknown). */
export function effectiveEnv(df: Dockerfile, stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of chainInstructions(df, stage)) {
    if (ins.keyword !== "ENV") continue;
    for (const [k, v] of parseAssignments("ENV", ins.args)) env.set(k, v ?? "");
  }
  return env;
}

/** Stages that another stage builds FROM or COPYs --from. */
export function referencedStages(df: Dockerfile): Set<string> {
  const used = new Set<string>();
  for (const s of df.stages) {
    for (const ins of s.instructions) {
      if (ins.keyword === "FROM" && findStage(df, s.from) && findStage(df, s.from)!.index < s.index) used.add(s.from.toLowerCase());
      if (ins.flags.from) used.add(ins.flags.from.toLowerCase());
    }
  }
  return used;
}
