import * as fs from "node:fs";
import * as path from "node:path";

/**
 * A small Dockerfile linter for the rules our deployment relies on, for
 * machines without a Docker engine or hadolint. It reads the subset of the
 * syntax we write: comments, line continuations, JSON and shell forms.
 *
 *   npx ts-node --transpile-only test/Docker/dockerfileLint.ts [Dockerfile]
 */

/** DockerfileInstruction is one instruction, continuation lines joined. */
export interface DockerfileInstruction {
  /** The keyword in upper case, such as COPY. */
  readonly keyword: string;
  /** The text after the keyword. */
  readonly args: string;
  /** The 1-based line the instruction starts on. */
  readonly line: number;
}

/** DockerfileStage is one FROM and the instructions up to the next one. */
export interface DockerfileStage {
  readonly image: string;
  /** The name after AS, if any. */
  readonly name: string | undefined;
  readonly line: number;
  readonly instructions: readonly DockerfileInstruction[];
}

/** BuildContext answers what a COPY can see of the build context. */
export interface BuildContext {
  /** exists tells whether a context-relative path exists. */
  exists(relativePath: string): boolean;
  /** ignored tells whether .dockerignore leaves the path out. */
  ignored(relativePath: string): boolean;
}

/**
 * parseDockerfile splits a Dockerfile into stages.
 *
 * @throws {SyntaxError} when an instruction comes before the first FROM
 *   (ARG excepted).
 */
export function parseDockerfile(text: string): DockerfileStage[] {
  const stages: {
    image: string;
    name: string | undefined;
    line: number;
    instructions: DockerfileInstruction[];
  }[] = [];
  for (const instruction of readInstructions(text)) {
    if (instruction.keyword === "FROM") {
      const [image = "", as, name] = instruction.args
        .split(/\s+/)
        .filter((word) => !word.startsWith("--"));
      const named = as?.toUpperCase() === "AS" ? name : undefined;
      stages.push({
        image,
        name: named,
        line: instruction.line,
        instructions: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    if (stage !== undefined) stage.instructions.push(instruction);
    else if (instruction.keyword !== "ARG") {
      throw new SyntaxError(
        `Cannot parse Dockerfile: line ${instruction.line} comes before any FROM`,
      );
    }
  }
  return stages;
}

/**
 * execForm reads an instruction's JSON form: an array of strings, or
 * undefined for the shell form.
 */
export function execForm(args: string): string[] | undefined {
  if (!args.trimStart().startsWith("[")) return undefined;
  try {
    const parsed: unknown = JSON.parse(args);
    if (
      Array.isArray(parsed) &&
      parsed.every((item) => typeof item === "string")
    ) {
      return parsed;
    }
  } catch {
    // Docker runs a malformed array through the shell; so do we.
  }
  return undefined;
}

/**
 * lintDockerfile checks the rules our deployment relies on and returns one
 * "line N: reason" problem per broken rule, none when all hold: images
 * pinned to a major version, an exec-form ENTRYPOINT and CMD in the final
 * stage, a final USER that is not root, and COPY sources that exist in the
 * context or name an earlier stage.
 *
 * @throws {SyntaxError} as parseDockerfile does.
 */
export function lintDockerfile(text: string, context: BuildContext): string[] {
  const stages = parseDockerfile(text);
  if (stages.length === 0) return ["line 1: no FROM instruction"];

  return [
    ...stages.flatMap((stage, index) =>
      pinnedImageProblems(stage, stages.slice(0, index)),
    ),
    ...execFormProblems(stages.at(-1)!),
    ...finalUserProblems(stages.at(-1)!),
    ...stages.flatMap((stage, index) =>
      copySourceProblems(stage, stages.slice(0, index), context),
    ),
  ];
}

/**
 * directoryContext is the BuildContext of a folder and its .dockerignore,
 * which it reads as Docker does for the patterns we use: `*`, `**`, `?`
 * and `!` exceptions, the last matching line winning.
 */
export function directoryContext(folder: string): BuildContext {
  const ignoreFile = path.join(folder, ".dockerignore");
  const patterns = fs.existsSync(ignoreFile)
    ? fs
        .readFileSync(ignoreFile, "utf8")
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#"))
        .map(ignorePattern)
    : [];
  return {
    exists: (relativePath) => fs.existsSync(path.join(folder, relativePath)),
    ignored: (relativePath) => {
      const normal = path.posix
        .normalize(relativePath)
        .replace(/^(\.\/)+|\/+$/g, "");
      let ignored = false;
      for (const { regex, negated } of patterns) {
        if (pathOrParentMatches(normal, regex)) ignored = !negated;
      }
      return ignored;
    },
  };
}

function pinnedImageProblems(
  stage: DockerfileStage,
  earlier: readonly DockerfileStage[],
): string[] {
  if (
    stage.image === "scratch" ||
    earlier.some((other) => other.name === stage.image)
  )
    return [];
  if (stage.image.includes("@sha256:")) return [];

  const tag = /:([^/:]+)$/.exec(stage.image)?.[1];
  if (tag === undefined)
    return [
      `line ${stage.line}: image ${stage.image} has no tag; pin a major version`,
    ];
  if (!/^\d/.test(tag))
    return [
      `line ${stage.line}: image ${stage.image} is not pinned to a major version`,
    ];
  return [];
}

function execFormProblems(final: DockerfileStage): string[] {
  const entrypoint = final.instructions
    .filter((item) => item.keyword === "ENTRYPOINT")
    .at(-1);
  if (entrypoint === undefined)
    return [`line ${final.line}: final stage has no ENTRYPOINT`];

  const problems: string[] = [];
  if (execForm(entrypoint.args) === undefined) {
    problems.push(
      `line ${entrypoint.line}: ENTRYPOINT is in shell form, so a shell and not the program receives signals`,
    );
  }
  const cmd = final.instructions
    .filter((item) => item.keyword === "CMD")
    .at(-1);
  if (cmd !== undefined && execForm(cmd.args) === undefined) {
    problems.push(
      `line ${cmd.line}: CMD is in shell form, so the entrypoint gets "/bin/sh -c" as arguments`,
    );
  }
  return problems;
}

function finalUserProblems(final: DockerfileStage): string[] {
  const user = final.instructions
    .filter((item) => item.keyword === "USER")
    .at(-1);
  if (user === undefined)
    return [`line ${final.line}: final stage has no USER, so it runs as root`];

  const name = user.args.trim().split(":")[0];
  if (name === "root" || name === "0")
    return [`line ${user.line}: final stage runs as root`];
  return [];
}

function copySourceProblems(
  stage: DockerfileStage,
  earlier: readonly DockerfileStage[],
  context: BuildContext,
): string[] {
  const problems: string[] = [];
  for (const copy of stage.instructions.filter(
    (item) => item.keyword === "COPY" || item.keyword === "ADD",
  )) {
    const { from, sources } = copyArguments(copy.args);
    if (from !== undefined) {
      if (
        !earlier.some(
          (other, index) => other.name === from || String(index) === from,
        )
      ) {
        problems.push(
          `line ${copy.line}: COPY --from=${from} names no earlier stage`,
        );
      }
      continue;
    }
    for (const source of sources.filter((item) => !/^https?:\/\//.test(item))) {
      if (!context.exists(source))
        problems.push(
          `line ${copy.line}: COPY source ${source} does not exist`,
        );
      else if (context.ignored(source))
        problems.push(
          `line ${copy.line}: COPY source ${source} is excluded by .dockerignore`,
        );
    }
  }
  return problems;
}

function copyArguments(args: string): {
  from: string | undefined;
  sources: string[];
} {
  // Flags come first; the rest is sources and a destination, or a JSON list.
  const words = args.trim().split(/\s+/);
  const first = words.findIndex((word) => !word.startsWith("--"));
  const flags = words.slice(0, first === -1 ? words.length : first);
  const rest = words.slice(flags.length).join(" ");
  const paths = execForm(rest) ?? rest.split(/\s+/);
  const from = flags
    .find((flag) => flag.startsWith("--from="))
    ?.slice("--from=".length);
  return { from, sources: paths.slice(0, -1) };
}

function* readInstructions(text: string): Generator<DockerfileInstruction> {
  const lines = text.split(/\r?\n/);
  let pending: { text: string; line: number } | undefined;
  for (const [index, raw] of lines.entries()) {
    // Docker drops comment lines even inside a continued instruction.
    if (/^\s*#/.test(raw)) continue;
    if (pending === undefined && raw.trim() === "") continue;

    const continued = /\\\s*$/.test(raw);
    const body = continued ? raw.replace(/\\\s*$/, "") : raw;
    pending =
      pending === undefined
        ? { text: body, line: index + 1 }
        : {
            text: `${pending.text.trimEnd()} ${body.trim()}`,
            line: pending.line,
          };
    if (continued) continue;

    yield splitInstruction(pending.text, pending.line);
    pending = undefined;
  }
  if (pending !== undefined) yield splitInstruction(pending.text, pending.line);
}

function splitInstruction(text: string, line: number): DockerfileInstruction {
  const match = /^\s*(\S+)\s*(.*)$/.exec(text)!;
  return { keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line };
}

function ignorePattern(line: string): { regex: RegExp; negated: boolean } {
  const negated = line.startsWith("!");
  const pattern = path.posix
    .normalize(line.slice(negated ? 1 : 0))
    .replace(/^(\.?\/)+|\/+$/g, "");
  const source = pattern
    .split(/(\*\*|\*|\?)/)
    .map((part) => {
      if (part === "**") return ".*";
      if (part === "*") return "[^/]*";
      if (part === "?") return "[^/]";
      return part.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    })
    .join("");
  return { regex: new RegExp(`^${source}$`), negated };
}

function pathOrParentMatches(relativePath: string, regex: RegExp): boolean {
  const parts = relativePath.split("/");
  return parts.some((_, index) =>
    regex.test(parts.slice(0, index + 1).join("/")),
  );
}

function main(): number {
  const dockerfile = path.resolve(process.argv[2] ?? "Dockerfile");
  const problems = lintDockerfile(
    fs.readFileSync(dockerfile, "utf8"),
    directoryContext(path.dirname(dockerfile)),
  );
  for (const problem of problems) console.log(`${dockerfile}: ${problem}`);
  return problems.length === 0 ? 0 : 1;
}

if (require.main === module) process.exitCode = main();
