import { expect } from "chai";
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import { installedTypeormVersion } from "../../SimpleBatchRunner/startup/typeormBundle";
import { CHECKOUT } from "../support/fixtures";

const run = promisify(execFile);
const BUILT = path.join(CHECKOUT, "dist", "SimpleBatchRunner");
const STARTUP = path.join(BUILT, "startup");

interface Report {
  source: { from: string; codeCache?: string; stale?: boolean };
  /** require("typeorm") from two places gave the same module. */
  oneTypeorm: boolean;
  /** The file that require("typeorm") resolves to, relative to the checkout. */
  resolved: string;
  /** TypeORM's DataSource class as that module exports it. */
  dataSource: string;
}

/**
 * loadFrom loads the runner's TypeORM loader from `dir` in a fresh Node
 * process, after the inlining budget as the runner does, and reports what
 * it chose and what require("typeorm") then gives.
 */
async function loadFrom(dir: string): Promise<Report> {
  const script = `
    require(${JSON.stringify(path.join(BUILT, "inliningBudget.js"))});
    const { typeormSource } = require(${JSON.stringify(path.join(dir, "loadTypeorm.js"))});
    const { createRequire } = require("node:module");
    const elsewhere = createRequire(${JSON.stringify(path.join(CHECKOUT, "test", "x.js"))});
    const typeorm = require("typeorm");
    process.stdout.write(JSON.stringify({
      source: typeormSource,
      oneTypeorm: typeorm === elsewhere("typeorm"),
      resolved: require("node:path").relative(
        ${JSON.stringify(CHECKOUT)}, require.resolve("typeorm")),
      dataSource: typeof typeorm.DataSource === "function"
        ? typeorm.DataSource.name : String(typeorm.DataSource),
    }));`;
  const { stdout } = await run(process.execPath, ["-e", script], {
    cwd: CHECKOUT,
  });
  return JSON.parse(stdout) as Report;
}

describe("the runner's TypeORM bundle", function () {
  this.timeout(30_000);

  it("is built for the installed TypeORM and Node.js", async function () {
    const manifest = JSON.parse(
      await readFile(path.join(STARTUP, "typeorm.bundle.json"), "utf8"),
    ) as { typeormVersion: string; nodeVersion: string };
    expect(manifest).to.deep.equal({
      typeormVersion: installedTypeormVersion(),
      nodeVersion: process.version,
    });
  });

  it("serves every require of typeorm, with the code V8 saved at build", async function () {
    const report = await loadFrom(STARTUP);
    expect(report).to.deep.equal({
      source: { from: "bundle", codeCache: "used" },
      oneTypeorm: true,
      resolved: path.join(
        "dist",
        "SimpleBatchRunner",
        "startup",
        "typeorm.bundle.js",
      ),
      dataSource: "DataSource",
    });
  });

  describe("a copy of the loader beside another bundle", function () {
    let dir: string;

    beforeEach(async function () {
      // Inside the checkout, so that node_modules is found from there.
      dir = await mkdtemp(path.join(CHECKOUT, "dist", "bundle-test-"));
      for (const file of ["loadTypeorm.js", "typeormBundle.js"]) {
        await copyFile(path.join(STARTUP, file), path.join(dir, file));
      }
    });

    afterEach(async function () {
      await rm(dir, { recursive: true, force: true });
    });

    async function writeManifest(typeormVersion: string): Promise<void> {
      await writeFile(
        path.join(dir, "typeorm.bundle.json"),
        JSON.stringify({ typeormVersion, nodeVersion: process.version }),
      );
    }

    it("leaves TypeORM to node_modules when no bundle was built", async function () {
      const report = await loadFrom(dir);
      expect(report.source).to.include({ from: "node_modules", stale: false });
      expect(report.resolved).to.equal(
        path.join("node_modules", "typeorm", "index.js"),
      );
      expect(report.dataSource).to.equal("DataSource");
    });

    it("leaves TypeORM to node_modules when the bundle holds another version", async function () {
      await writeManifest("0.0.1");
      await copyFile(
        path.join(STARTUP, "typeorm.bundle.js"),
        path.join(dir, "typeorm.bundle.js"),
      );
      const report = await loadFrom(dir);
      expect(report.source).to.include({ from: "node_modules", stale: true });
      expect(report.resolved).to.equal(
        path.join("node_modules", "typeorm", "index.js"),
      );
    });

    it("compiles the bundle itself when its saved code is missing", async function () {
      await writeManifest(installedTypeormVersion());
      await copyFile(
        path.join(STARTUP, "typeorm.bundle.js"),
        path.join(dir, "typeorm.bundle.js"),
      );
      const report = await loadFrom(dir);
      expect(report.source).to.deep.equal({
        from: "bundle",
        codeCache: "missing",
      });
      expect(report.oneTypeorm).to.equal(true);
      expect(report.dataSource).to.equal("DataSource");
    });

    it("fails the start with the bundle's own error, and leaves it out of the module cache", async function () {
      await writeManifest(installedTypeormVersion());
      await writeFile(
        path.join(dir, "typeorm.bundle.js"),
        `throw new Error("bundle breaks on load");`,
      );
      const script = `
        try { require(${JSON.stringify(path.join(dir, "loadTypeorm.js"))}); }
        catch (error) {
          process.stdout.write(JSON.stringify({
            message: error.message,
            cached: Object.keys(require.cache).some((file) =>
              file.endsWith("typeorm.bundle.js")),
          }));
        }`;
      const { stdout } = await run(process.execPath, ["-e", script], {
        cwd: CHECKOUT,
      });
      expect(JSON.parse(stdout)).to.deep.equal({
        message: "bundle breaks on load",
        cached: false,
      });
    });
  });
});
