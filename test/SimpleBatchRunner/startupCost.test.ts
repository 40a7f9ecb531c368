import { expect } from "chai";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import type { DataSource } from "typeorm";
import { migrate } from "../../DataLayer/migrate";
import {
  INLINING_BUDGET,
  INLINING_FLAG,
  inliningSetting,
} from "../../SimpleBatchRunner/inliningBudget";
import { CHECKOUT } from "../support/fixtures";
import { createTestDatabase, TestDatabase } from "../support/testServer";

const run = promisify(execFile);
const RUNNER = path.join(CHECKOUT, "dist", "SimpleBatchRunner", "main.js");

interface LoadedModules {
  /** Node's fetch stack, undici, was loaded. */
  readonly fetch: boolean;
  /** class-validator's index, which loads every validator it has. */
  readonly classValidatorIndex: boolean;
  /** Files loaded from node_modules/typeorm rather than from its bundle. */
  readonly typeormFiles: number;
}

/**
 * loadedBy runs `body` in a fresh Node process and reports, as it exits,
 * which of the costly modules it loaded.
 */
async function loadedBy(
  body: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedModules> {
  const script = `
    process.on("exit", () => {
      const report = {
        fetch: process.moduleLoadList.some((name) => name.includes("undici")),
        classValidatorIndex: Object.keys(require.cache).some((file) =>
          file.endsWith(require("node:path").join("class-validator", "cjs", "index.js"))),
        typeormFiles: Object.keys(require.cache).filter((file) =>
          file.includes(require("node:path").join("node_modules", "typeorm", ""))).length,
      };
      process.stderr.write("\\nLOADED " + JSON.stringify(report) + "\\n");
    });
    ${body}`;
  const { stderr } = await run(process.execPath, ["-e", script], {
    cwd: CHECKOUT,
    env,
  });
  const line = stderr.split("\n").find((text) => text.startsWith("LOADED "));
  if (line === undefined) throw new Error(`no report in: ${stderr}`);
  return JSON.parse(line.slice("LOADED ".length)) as LoadedModules;
}

describe("what a runner loads at start-up", function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let dataSource: DataSource;

  before(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    await migrate(dataSource);
  });

  after(async function () {
    await dataSource?.destroy();
    await database?.drop();
  });

  it("sees what a plain require of pg, class-validator or TypeORM loads", async function () {
    const loaded = await loadedBy(
      `require("pg"); require("class-validator"); require("typeorm");`,
    );
    expect(loaded.classValidatorIndex).to.equal(true);
    expect(loaded.typeormFiles).to.be.greaterThan(100);
    // Node 21 and later define navigator themselves, and pg then skips fetch.
    const major = Number(process.versions.node.split(".")[0]);
    if (major < 21) expect(loaded.fetch).to.equal(true);
  });

  it("runs a claim without loading Node's fetch stack, class-validator's index or TypeORM's files", async function () {
    const loaded = await loadedBy(
      `process.argv = [process.argv[0], ${JSON.stringify(RUNNER)},
         "--until-empty", "--id", "startup-probe"];
       require(${JSON.stringify(RUNNER)});`,
      { ...database.env, LOG_LEVEL: "warn" },
    );
    expect(loaded).to.deep.equal({
      fetch: false,
      classValidatorIndex: false,
      typeormFiles: 0,
    });
  });
});

describe("the runner's inlining budget", function () {
  this.timeout(30_000);
  const BUDGET_MODULE = path.join(
    CHECKOUT,
    "dist",
    "SimpleBatchRunner",
    "inliningBudget.js",
  );

  /** flagsSetBy loads the module in a fresh node and lists what it set. */
  async function flagsSetBy(nodeArgs: readonly string[]): Promise<string[]> {
    const script = `
      const v8 = require("node:v8");
      const set = [];
      const original = v8.setFlagsFromString;
      v8.setFlagsFromString = (flags) => { set.push(flags); original(flags); };
      require(${JSON.stringify(BUDGET_MODULE)});
      process.stdout.write(JSON.stringify(set));`;
    const { stdout } = await run(process.execPath, [...nodeArgs, "-e", script]);
    return JSON.parse(stdout) as string[];
  }

  it("caps inlining when node's command line does not", async function () {
    expect(await flagsSetBy([])).to.deep.equal([
      `${INLINING_FLAG}=${INLINING_BUDGET}`,
    ]);
  });

  it("leaves the cap to node's command line when it sets one", async function () {
    expect(await flagsSetBy([`${INLINING_FLAG}=920`])).to.deep.equal([]);
    expect(inliningSetting([INLINING_FLAG, "920"])).to.equal(undefined);
  });

  it("is loaded by the runner before anything else", async function () {
    const source = await readFile(
      path.join(CHECKOUT, "dist", "SimpleBatchRunner", "main.js"),
      "utf8",
    );
    const firstRequire = /require\("([^"]+)"\)/.exec(source)?.[1];
    expect(firstRequire).to.equal("./inliningBudget");
  });
});
