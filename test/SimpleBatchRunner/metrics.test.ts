import { spawn } from "node:child_process";
import * as path from "node:path";
import { expect } from "chai";
import { Expose } from "class-transformer";
import { IsBoolean } from "class-validator";
import type { DataSource } from "typeorm";
import type { ITaskfy } from "../../Contracts/ITaskfy";
import { silentLogger } from "../../Contracts/Logger";
import { TaskRegistry } from "../../Contracts/TaskRegistry";
import { migrate } from "../../DataLayer/migrate";
import { BatchRunner } from "../../SimpleBatchRunner/BatchRunner";
import {
  createPrometheusMetrics,
  portOf,
  serveMetrics,
} from "../../SimpleBatchRunner/prometheusMetrics";
import { validateRunnerOptions } from "../../SimpleBatchRunner/RunnerOptions";
import { CHECKOUT, queue, waitFor } from "../support/fixtures";
import { createTestDatabase, TestDatabase } from "../support/testServer";

class OutcomeContract {
  @Expose({ name: "Throw" })
  @IsBoolean()
  shouldThrow!: boolean;
}

class OutcomeTask implements ITaskfy<OutcomeContract> {
  async execute(contract: OutcomeContract): Promise<void> {
    if (contract.shouldThrow) throw new Error("Outcome task throws");
  }
}

function task(shouldThrow: boolean) {
  return {
    className: "OutcomeTask",
    contractName: "OutcomeContract",
    contractJson: JSON.stringify({ Throw: shouldThrow }),
  };
}

/**
 * sample reads the value of the sample named `name` whose labels are
 * exactly `labels`, in any order, from Prometheus' text format.
 */
function sample(
  text: string,
  name: string,
  labels: Record<string, string>,
): number | undefined {
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort()
    .join(",");
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match?.[1] === name && match[2].split(",").sort().join(",") === wanted)
      return Number(match[3]);
  }
  return undefined;
}

describe("runner metrics", function () {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeEach(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    await migrate(dataSource);
  });

  afterEach(async function () {
    await dataSource?.destroy();
    await database?.drop();
  });

  it("counts tasks by class and outcome and times claims and tasks", async function () {
    const registry = new TaskRegistry();
    registry.registerContract("OutcomeContract", OutcomeContract);
    registry.registerTask("OutcomeTask", OutcomeTask, OutcomeContract);
    await queue(dataSource, [
      task(false),
      task(false),
      task(true),
      { ...task(false), className: "Unknown" },
    ]);
    const metrics = createPrometheusMetrics("metrics-runner");
    const runner = new BatchRunner(
      {
        dataSource,
        registry,
        log: silentLogger,
        print: () => undefined,
        metrics,
      },
      validateRunnerOptions({
        runnerId: "metrics-runner",
        pollIntervalMs: 20,
        retryBaseMs: 60_000,
      }),
    );
    const loop = runner.start();
    // Three tasks end; the one that threw waits a minute for its retry.
    await waitFor(
      "every task to end once",
      async () =>
        runner.stats.tasksDone +
          runner.stats.tasksFailed +
          runner.stats.tasksRetried ===
        4,
    );
    await runner.stop();
    await loop;
    const server = await serveMetrics(metrics.registry, "127.0.0.1", 0);

    const response = await fetch(`http://127.0.0.1:${portOf(server)}/metrics`);
    const text = await response.text();
    server.close();

    expect(response.status).to.equal(200);
    const runnerId = "metrics-runner";
    const of = (taskClass: string) => ({
      runner_id: runnerId,
      task_class: taskClass,
    });
    expect(sample(text, "batch_tasks_done_total", of("OutcomeTask"))).to.equal(
      2,
    );
    expect(
      sample(text, "batch_tasks_retried_total", of("OutcomeTask")),
    ).to.equal(1);
    expect(sample(text, "batch_tasks_failed_total", of("Unknown"))).to.equal(1);
    expect(
      sample(text, "batch_claim_duration_seconds_count", {
        runner_id: runnerId,
      }),
    ).to.be.at.least(5);
    expect(
      sample(text, "batch_task_duration_seconds_count", {
        ...of("OutcomeTask"),
        outcome: "done",
      }),
    ).to.equal(2);
    expect(
      sample(text, "batch_tasks_in_hand", { runner_id: runnerId }),
    ).to.equal(0);
    expect(
      sample(text, "batch_serialization_retries_total", {
        runner_id: runnerId,
      }),
    ).to.equal(0);
    expect(text).to.contain("process_cpu_seconds_total");
  });

  it("serves metrics from a runner process started with --metrics-port", async function () {
    this.timeout(30_000);
    const runner = spawn(
      process.execPath,
      [
        path.join(CHECKOUT, "dist/SimpleBatchRunner/main.js"),
        "--metrics-port",
        "0",
        "--id",
        "served",
      ],
      { env: { ...database.env, LOG_LEVEL: "info" } },
    );
    let stderr = "";
    runner.stderr.on("data", (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) =>
      runner.once("exit", resolve),
    );

    try {
      await waitFor(
        "the metrics address in the log",
        () => /Serving metrics/.test(stderr),
        15_000,
      );
      const url = JSON.parse(
        stderr.split("\n").find((line) => line.includes("Serving metrics"))!,
      ).url;
      const text = await (await fetch(url)).text();

      expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect(text).to.contain('batch_tasks_in_hand{runner_id="served"}');
    } finally {
      runner.kill("SIGTERM");
    }
    expect(await exited).to.equal(0);
  });
});
