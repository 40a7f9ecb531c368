import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CHECKOUT } from "../support/fixtures";
import { DockerfileStage, execForm, parseDockerfile } from "./dockerfileLint";

/**
 * Readers for the deployment files, so that tests can check them and run
 * the commands they name without a Docker engine.
 */

/** ComposeService is the subset of a compose service the tests read. */
export interface ComposeService {
  readonly image?: string;
  readonly build?: string | { readonly context?: string };
  readonly entrypoint?: string[] | string;
  readonly command?: string[] | string;
  readonly environment?: Record<string, string>;
  readonly depends_on?: Record<string, { readonly condition?: string }>;
  readonly healthcheck?: { readonly test?: string[] | string };
  readonly container_name?: string;
  readonly stop_grace_period?: string;
  readonly extra_hosts?: string[];
  readonly restart?: string;
}

/** ImageConfig is the image as a Dockerfile stage leaves it. */
export interface ImageConfig {
  readonly entrypoint: string[];
  readonly cmd: string[];
  readonly env: Record<string, string>;
}

/** Deployment is the checkout's Dockerfile and docker-compose.yml, parsed. */
export interface Deployment {
  readonly dockerfileText: string;
  readonly stages: readonly DockerfileStage[];
  /** The final stage, which the image runs. */
  readonly runtime: DockerfileStage;
  readonly services: Readonly<Record<string, ComposeService>>;
}

/**
 * readDeployment reads the Dockerfile and docker-compose.yml in `folder`,
 * the checkout by default.
 *
 * @throws {SyntaxError} for a Dockerfile without FROM.
 */
export function readDeployment(folder: string = CHECKOUT): Deployment {
  const dockerfileText = fs.readFileSync(
    path.join(folder, "Dockerfile"),
    "utf8",
  );
  const stages = parseDockerfile(dockerfileText);
  const runtime = stages.at(-1);
  if (runtime === undefined) {
    throw new SyntaxError("Cannot read the Dockerfile: it has no FROM");
  }
  const compose = parse(
    fs.readFileSync(path.join(folder, "docker-compose.yml"), "utf8"),
  );
  return { dockerfileText, stages, runtime, services: compose.services };
}

/**
 * containerCommandLine is what Docker runs: the service's entrypoint or the
 * image's, then the service's command, or the image's CMD unless the
 * service replaced the entrypoint (which clears it).
 *
 * @throws {TypeError} for a shell-form entrypoint or command.
 */
export function containerCommandLine(
  service: ComposeService,
  image: ImageConfig,
): string[] {
  const entrypoint = service.entrypoint ?? image.entrypoint;
  const command =
    service.command ?? (service.entrypoint === undefined ? image.cmd : []);
  if (typeof entrypoint === "string" || typeof command === "string") {
    throw new TypeError(
      "Cannot run a service: entrypoint and command must be lists",
    );
  }
  return [...entrypoint, ...command];
}

/**
 * imageConfig reads a stage's last ENTRYPOINT and CMD (exec form; empty
 * otherwise) and its ENV pairs.
 */
export function imageConfig(stage: DockerfileStage): ImageConfig {
  const env: Record<string, string> = {};
  for (const item of stage.instructions.filter(
    (instruction) => instruction.keyword === "ENV",
  )) {
    for (const pair of item.args.split(/\s+/)) {
      const [key, ...value] = pair.split("=");
      env[key!] = value.join("=");
    }
  }
  return {
    entrypoint: execForm(lastArgs(stage, "ENTRYPOINT") ?? "") ?? [],
    cmd: execForm(lastArgs(stage, "CMD") ?? "") ?? [],
    env,
  };
}

/** lastArgs is the text of the stage's last `keyword` instruction. */
export function lastArgs(
  stage: DockerfileStage,
  keyword: string,
): string | undefined {
  return stage.instructions.filter((item) => item.keyword === keyword).at(-1)
    ?.args;
}

/** runs lists a stage's RUN commands, split at `&&`. */
export function runs(stage: DockerfileStage): string[] {
  return stage.instructions
    .filter((item) => item.keyword === "RUN")
    .flatMap((item) => item.args.split(/\s*&&\s*/));
}

/** copies lists the arguments of a stage's COPY instructions. */
export function copies(stage: DockerfileStage): string[] {
  return stage.instructions
    .filter((item) => item.keyword === "COPY")
    .map((item) => item.args);
}

/** removedPackages lists the node_modules folders a stage's rm deletes. */
export function removedPackages(stage: DockerfileStage): string[] {
  return runs(stage)
    .filter((command) => /^rm\s/.test(command))
    .flatMap((command) => command.split(/\s+/))
    .filter((word) => word.startsWith("node_modules/"))
    .map((word) => word.slice("node_modules/".length));
}

/**
 * runtimeImagePreload is a --require script that makes the packages the
 * runtime image lacks unresolvable, so that a run outside Docker fails as
 * the container would when the runner or the client imports one: dev and
 * optional packages (npm ci --omit=dev --omit=optional) and the folders the
 * Dockerfile removes.
 */
export function runtimeImagePreload(runtime: DockerfileStage): string {
  const lock = JSON.parse(
    fs.readFileSync(path.join(CHECKOUT, "package-lock.json"), "utf8"),
  );
  const removed = removedPackages(runtime);
  const kept = new Set<string>();
  const omitted = new Set<string>(removed);
  for (const [key, entry] of Object.entries<{
    dev?: boolean;
    optional?: boolean;
    devOptional?: boolean;
  }>(lock.packages)) {
    if (key === "") continue;
    const name = key.slice(
      key.lastIndexOf("node_modules/") + "node_modules/".length,
    );
    if (entry.dev || entry.optional || entry.devOptional) omitted.add(name);
    else kept.add(name);
  }
  const blocked = [...omitted].filter(
    (name) => !kept.has(name) || removed.includes(name),
  );

  return `"use strict";
const Module = require("node:module");
const blocked = new Set(${JSON.stringify(blocked)});
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const parts = request.split("/");
  const name = request.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  if (blocked.has(name)) {
    const error = new Error("Cannot find module '" + request + "': not in the runtime image");
    error.code = "MODULE_NOT_FOUND";
    throw error;
  }
  return resolve.call(this, request, ...rest);
};
`;
}

/**
 * localImports lists the checkout's files that `entries` reach through
 * relative imports, entries included, as checkout-relative paths.
 *
 * @throws {Error} for an import that names no file.
 */
export function localImports(entries: readonly string[]): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = fs.readFileSync(path.join(CHECKOUT, file), "utf8");
    for (const [, specifier] of text.matchAll(
      /(?:from|import|require\()\s*"(\.[^"]+)"/g,
    )) {
      const base = path.posix.join(path.posix.dirname(file), specifier!);
      const found = [`${base}.ts`, `${base}/index.ts`].find((candidate) =>
        fs.existsSync(path.join(CHECKOUT, candidate)),
      );
      if (found === undefined) {
        throw new Error(`Cannot resolve ${specifier} imported by ${file}`);
      }
      visit(found);
    }
  };
  entries.forEach(visit);
  return [...seen];
}

/**
 * typeScriptFiles lists the .ts files at a checkout-relative path: the file
 * itself, or every one in the folder and below.
 */
export function typeScriptFiles(relativePath: string): string[] {
  const full = path.join(CHECKOUT, relativePath);
  if (!fs.statSync(full).isDirectory()) {
    return relativePath.endsWith(".ts") ? [relativePath] : [];
  }
  return fs
    .readdirSync(full, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) =>
      path.posix.join(relativePath, name.split(path.sep).join("/")),
    );
}

/** interpolate expands ${NAME}, ${NAME:-default} and ${NAME-default}. */
export function interpolate(
  value: string,
  env: Record<string, string | undefined>,
): string {
  return value.replace(
    /\$\{(\w+)(?:(:?)-([^}]*))?\}/g,
    (_, name: string, colon?: string, fallback?: string) => {
      const set = env[name];
      if (fallback === undefined) return set ?? "";
      return set === undefined || (colon === ":" && set === "")
        ? fallback
        : set;
    },
  );
}

/**
 * durationSeconds reads a compose duration such as 1m30s, in seconds.
 *
 * @throws {RangeError} for text with no duration in it.
 */
export function durationSeconds(text: string): number {
  const units: Record<string, number> = {
    h: 3600,
    m: 60,
    s: 1,
    ms: 0.001,
    us: 0.000001,
  };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)];
  if (parts.length === 0)
    throw new RangeError(`Cannot read duration "${text}"`);
  return parts.reduce(
    (total, [, amount, unit]) => total + Number(amount) * units[unit!]!,
    0,
  );
}
