/**
 * Builds the runner's TypeORM bundle (see typeormBundle.ts): the installed
 * TypeORM in one file, V8's compiled code for it, and a manifest of what it
 * was built from. `npm run build` runs this after the compiler; it does
 * nothing when the bundle on disk matches the installed TypeORM and Node.js.
 */
// The same V8 flags as the runner, which V8 checks before it takes saved code.
import "../inliningBudget";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { buildSync } from "esbuild";
import {
  BUNDLE_FILE,
  type BundleManifest,
  CODE_CACHE_FILE,
  compileBundle,
  installedTypeormVersion,
  MANIFEST_FILE,
  runBundle,
} from "./typeormBundle";

function main(): void {
  const wanted: BundleManifest = {
    typeormVersion: installedTypeormVersion(),
    nodeVersion: process.version,
  };
  if (isCurrent(wanted)) return;

  // Written last, so a build that stops halfway is built again next time.
  rmSync(MANIFEST_FILE, { force: true });
  buildSync({
    entryPoints: [require.resolve("typeorm")],
    outfile: BUNDLE_FILE,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: `node${process.versions.node.split(".")[0]}`,
    // Left to node_modules: the driver TypeORM loads by name, which the
    // runner also uses directly, and reflect-metadata, which the runner
    // loads first and which must exist once.
    external: ["pg", "pg-native", "pg-query-stream", "reflect-metadata"],
    logLevel: "error",
  });

  // Running the bundle's top level first puts the functions it compiles
  // into the saved code, not only the outermost one.
  const script = compileBundle();
  runBundle(script);
  writeFileSync(CODE_CACHE_FILE, script.createCachedData());
  writeFileSync(MANIFEST_FILE, `${JSON.stringify(wanted, null, 2)}\n`);
}

function isCurrent(wanted: BundleManifest): boolean {
  try {
    const built = JSON.parse(
      readFileSync(MANIFEST_FILE, "utf8"),
    ) as BundleManifest;
    return (
      built.typeormVersion === wanted.typeormVersion &&
      built.nodeVersion === wanted.nodeVersion
    );
  } catch {
    return false;
  }
}

main();
