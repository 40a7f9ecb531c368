import {
  buildNoopTasks,
  enqueueAll,
  launchRunners,
  resetTaskTables,
  taskTimes,
} from "../ours";
import { awaitExits, describeExit } from "../processes";
import { connectTo, product } from "../product";
import type { Section, SectionContext, SectionReport } from "../section";
import { epochMs, median, round } from "../stats";

const DATABASE = "bench_startup";

/**
 * startup times a runner process from its launch to its first claim: one
 * task is queued before the launch, and its `startedat` marks the claim.
 * The process's whole life, until --until-empty ends it, is kept beside.
 */
export const startupSection: Section = {
  name: "startup",
  async run(context: SectionContext): Promise<SectionReport> {
    const url = await context.server.freshDatabase(DATABASE);
    const dataSource = await connectTo(url);
    const toFirstClaim: number[] = [];
    const lifetimes: number[] = [];
    const problems: string[] = [];
    try {
      await product().migrate(dataSource);
      for (let trial = 0; trial < context.plan.startupTrials; trial += 1) {
        context.progress(`Start-up: trial ${trial + 1}`);
        await resetTaskTables(dataSource);
        await enqueueAll(dataSource, buildNoopTasks(1));
        const [runner] = launchRunners(url, 1, ["--until-empty"]);
        const [exit] = await awaitExits([runner], 60_000);
        const ended = epochMs();
        if (exit.code !== 0) problems.push(describeExit(exit));
        const times = await taskTimes(dataSource);
        toFirstClaim.push(times.firstStart - runner.launchedAt);
        lifetimes.push(ended - runner.launchedAt);
      }
    } finally {
      await dataSource.destroy();
      await context.server.dropDatabase(DATABASE);
    }
    const data = {
      toFirstClaimMs: toFirstClaim.map((ms) => round(ms)),
      lifetimeMs: lifetimes.map((ms) => round(ms)),
      medianToFirstClaimMs: round(median(toFirstClaim)),
      medianLifetimeMs: round(median(lifetimes)),
      problems,
    };
    return {
      data,
      tables: [
        {
          title: `Start-up: runner launch to first claim, median of ${context.plan.startupTrials} (ms)`,
          columns: ["measure", "median", "all"],
          rows: [
            [
              "launch to first task start",
              data.medianToFirstClaimMs,
              data.toFirstClaimMs.join(", "),
            ],
            [
              "launch to exit (1 task, --until-empty)",
              data.medianLifetimeMs,
              data.lifetimeMs.join(", "),
            ],
          ],
          notes: problems,
        },
      ],
    };
  },
};
