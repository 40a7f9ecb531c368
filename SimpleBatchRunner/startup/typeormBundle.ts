/**
 * Loads TypeORM from one file instead of three hundred.
 *
 * Starting a runner is mostly loading modules, and TypeORM's index alone
 * pulls in about 300 files: each is resolved, read and compiled on its own.
 * The build bundles the installed TypeORM into one file next to this module
 * and saves V8's compiled code for it. The runner loads that file, and every
 * `require("typeorm")` in the process, the task modules' included, gets it.
 *
 * V8 takes the saved code only under the V8 flags it was made with, the
 * runner's own inlining budget included: a node started with others, such
 * as --max-old-space-size, compiles the bundle itself, which is slower but
 * still faster than loading the files one by one.
 *
 * When the bundle is missing, or was built from another TypeORM version,
 * the runner loads TypeORM from node_modules as usual. A task module that
 * deep-imports a TypeORM file (`typeorm/...`) at run time gets that file's
 * own copy, apart from the bundle: import from "typeorm" instead.
 */
import { readFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import * as path from "node:path";
import * as vm from "node:vm";

export const BUNDLE_FILE = path.join(__dirname, "typeorm.bundle.js");
export const CODE_CACHE_FILE = `${BUNDLE_FILE}.cache`;
export const MANIFEST_FILE = path.join(__dirname, "typeorm.bundle.json");

/** BundleManifest records what a bundle was built from. */
export interface BundleManifest {
  typeormVersion: string;
  nodeVersion: string;
}

/** How TypeORM was loaded, for the runner's start-up log. */
export type TypeormSource =
  | { from: "bundle"; codeCache: "used" | "rejected" | "missing" }
  | { from: "node_modules"; stale: boolean; reason: string };

/** The parts of Node's CommonJS loader that are not in its typings. */
interface CommonJsLoader {
  _resolveFilename(
    request: string,
    parent: unknown,
    ...rest: unknown[]
  ): string;
  _nodeModulePaths(from: string): string[];
  _cache: Record<string, Module>;
}
const loader = Module as unknown as CommonJsLoader;

/**
 * installedTypeormVersion reads the version in node_modules. It resolves
 * "typeorm", so it must run before useTypeormBundle sends that elsewhere.
 */
export function installedTypeormVersion(): string {
  // The package's exports hide package.json; its directory does not.
  const entry = require.resolve("typeorm");
  const manifest = JSON.parse(
    readFileSync(path.join(path.dirname(entry), "package.json"), "utf8"),
  ) as { version: string };
  return manifest.version;
}

/**
 * compileBundle compiles the bundle as CommonJS wraps a module, with V8's
 * saved code when given: the build makes that code with this same call.
 */
export function compileBundle(cachedData?: Buffer): vm.Script {
  return new vm.Script(Module.wrap(readFileSync(BUNDLE_FILE, "utf8")), {
    filename: BUNDLE_FILE,
    cachedData,
    // TypeORM imports entity files given as paths with import(); without
    // this, import() fails inside a vm.Script. Node.js warns that the
    // option is experimental, once, and only if import() is used.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
}

/**
 * runBundle runs a compiled bundle as the module at BUNDLE_FILE and puts it
 * in the module cache, where every later require of it finds it.
 */
export function runBundle(script: vm.Script): Module {
  const bundle = new Module(BUNDLE_FILE, module);
  bundle.filename = BUNDLE_FILE;
  bundle.paths = loader._nodeModulePaths(path.dirname(BUNDLE_FILE));
  // Cached first, as Node does, so that a cycle back to it finds it.
  loader._cache[BUNDLE_FILE] = bundle;
  try {
    const wrapper = script.runInThisContext() as (
      exports: unknown,
      require: NodeJS.Require,
      module: Module,
      filename: string,
      dirname: string,
    ) => void;
    wrapper.call(
      bundle.exports,
      bundle.exports,
      createRequire(BUNDLE_FILE),
      bundle,
      BUNDLE_FILE,
      path.dirname(BUNDLE_FILE),
    );
  } catch (error) {
    delete loader._cache[BUNDLE_FILE];
    throw error;
  }
  bundle.loaded = true;
  return bundle;
}

/**
 * useTypeormBundle loads the bundle and sends every later
 * `require("typeorm")` to it. Call it before anything imports TypeORM.
 */
export function useTypeormBundle(): TypeormSource {
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(
      readFileSync(MANIFEST_FILE, "utf8"),
    ) as BundleManifest;
  } catch {
    return { from: "node_modules", stale: false, reason: "no bundle built" };
  }
  const installed = installedTypeormVersion();
  if (manifest.typeormVersion !== installed) {
    return {
      from: "node_modules",
      stale: true,
      reason:
        `the bundle holds TypeORM ${manifest.typeormVersion} but ` +
        `${installed} is installed; npm run build makes a new one`,
    };
  }
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(CODE_CACHE_FILE);
  } catch {
    cachedData = undefined;
  }
  const script = compileBundle(cachedData);
  runBundle(script);

  const resolve = loader._resolveFilename;
  loader._resolveFilename = function (request, parent, ...rest) {
    return request === "typeorm"
      ? BUNDLE_FILE
      : resolve.call(this, request, parent, ...rest);
  };
  const codeCache =
    cachedData === undefined
      ? "missing"
      : script.cachedDataRejected
        ? "rejected"
        : "used";
  return { from: "bundle", codeCache };
}
