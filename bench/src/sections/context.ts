import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import { promisify } from "node:util";
import { Client } from "pg";
import type { Section, SectionContext, SectionReport } from "../section";
import { epochMs, rate, round } from "../stats";

const run = promisify(execFile);
const CLIENTS = 8;
const ROWS = 1000;

/**
 * context records what the numbers ran on: PostgreSQL's version, the
 * machine's cores, and a reference commit rate, single-row UPDATE
 * transactions from 8 connections, through pgbench when it is on PATH and
 * a Node loop otherwise.
 */
export const contextSection: Section = {
  name: "context",
  async run(context: SectionContext): Promise<SectionReport> {
    const url = await context.server.freshDatabase("bench_context");
    const [{ version }] = await context.server.adminQuery<{ version: string }>(
      "SELECT version()",
    );
    const cpus = os.cpus();
    context.progress(
      `Commit rate: ${CLIENTS} connections for ${context.plan.commitSeconds} s`,
    );
    const commits = await pgbenchCommitRate(
      url,
      context.plan.commitSeconds,
    ).catch(async (error: unknown) => {
      context.progress(
        `pgbench unavailable (${firstLine(error)}); using the Node loop`,
      );
      return nodeCommitRate(url, context.plan.commitSeconds);
    });
    await context.server.dropDatabase("bench_context");

    const data = {
      postgres: version,
      server: context.server.description,
      cores: cpus.length,
      cpu: cpus[0]?.model ?? "unknown",
      memoryGiB: round(os.totalmem() / 2 ** 30),
      node: process.version,
      commitsPerSecond: round(commits.rate),
      commitTool: commits.tool,
    };
    return {
      data,
      tables: [
        {
          title: "Context",
          columns: ["what", "value"],
          rows: [
            ["PostgreSQL", version.split(" on ")[0]],
            ["server", data.server],
            ["cores", String(data.cores)],
            ["cpu", data.cpu],
            ["node", data.node],
            [
              `commits/s (${CLIENTS} conns, 1-row UPDATE, ${commits.tool})`,
              String(Math.round(commits.rate)),
            ],
          ],
        },
      ],
    };
  },
};

async function pgbenchCommitRate(
  url: string,
  seconds: number,
): Promise<{ rate: number; tool: string }> {
  await run("pgbench", ["-i", "-q", "-s", "1", url], { timeout: 60_000 });
  const script =
    "\\set aid random(1, 100000)\nUPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n";
  const file = `${os.tmpdir()}/bench-commit-${process.pid}.sql`;
  await fs.writeFile(file, script);
  const { stdout } = await run(
    "pgbench",
    [
      "-n",
      "-c",
      String(CLIENTS),
      "-j",
      "2",
      "-T",
      String(seconds),
      "-f",
      file,
      url,
    ],
    { timeout: (seconds + 30) * 1000 },
  );
  await fs.rm(file, { force: true });
  const match = /tps = ([\d.]+)/.exec(stdout);
  if (match === null)
    throw new Error(`pgbench printed no tps: ${stdout.slice(-200)}`);
  return { rate: Number(match[1]), tool: "pgbench" };
}

async function nodeCommitRate(
  url: string,
  seconds: number,
): Promise<{ rate: number; tool: string }> {
  const setup = new Client({ connectionString: url });
  await setup.connect();
  await setup.query(
    "CREATE TABLE commit_rate (id int PRIMARY KEY, n int NOT NULL)",
  );
  await setup.query(
    "INSERT INTO commit_rate SELECT g, 0 FROM generate_series(1, $1) g",
    [ROWS],
  );
  await setup.end();

  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const client = new Client({ connectionString: url });
      await client.connect();
      return client;
    }),
  );
  const started = epochMs();
  const until = started + seconds * 1000;
  const counts = await Promise.all(
    clients.map(async (client) => {
      let commits = 0;
      while (epochMs() < until) {
        const id = 1 + Math.floor(Math.random() * ROWS);
        await client.query("UPDATE commit_rate SET n = n + 1 WHERE id = $1", [
          id,
        ]);
        commits += 1;
      }
      await client.end();
      return commits;
    }),
  );
  const total = counts.reduce((sum, count) => sum + count, 0);
  return { rate: rate(total, epochMs() - started), tool: "node loop" };
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split(
    "\n",
  )[0];
}
