import { openGraphile, openPgBoss, Peer } from "../peers/peerSetup";
import { PEER_TASK } from "../peers/peerTask";
import { connectTo, DataSourceLike, product } from "../product";
import type { SectionContext } from "../section";

/** Systems are ours and both peers, installed in one database. */
export interface Systems {
  readonly url: string;
  readonly dataSource: DataSourceLike;
  readonly graphile: Peer;
  readonly boss: Peer;
}

/** A Configuration is one setting of one system, named for the tables. */
export interface Configuration {
  readonly system: "ours" | "graphile-worker" | "pg-boss";
  readonly config: string;
}

/** PassedRun is what runMatrix reads and writes of every section's runs. */
export interface PassedRun {
  /** Processes that did not exit cleanly, with their last log lines. */
  readonly problems: readonly string[];
  /**
   * The rate of every pass, as the section measures it, in the order the
   * passes ran; set by runMatrix on the median pass it reports.
   */
  readonly passRates?: readonly number[];
}

/**
 * runMatrix installs every system in a fresh database named `database`,
 * then measures each configuration at each of the plan's process counts,
 * with a VACUUM ANALYZE after each run so that one run's dead rows do not
 * slow the next. With several passes, each pass measures every
 * configuration once, so that a spell of stolen CPU on the host falls on
 * all systems alike rather than on one, and each configuration reports
 * its median pass by `rateOf`, with every pass's rate and problems. The
 * database is dropped at the end.
 */
export async function runMatrix<C extends Configuration, R extends PassedRun>(
  context: SectionContext,
  database: string,
  title: string,
  configurationsFor: (systems: Systems) => readonly C[],
  measure: (configuration: C, processes: number) => Promise<R>,
  rateOf: (run: R) => number,
): Promise<R[]> {
  const url = await context.server.freshDatabase(database);
  const dataSource = await connectTo(url);
  const graphile = await openGraphile(url);
  const boss = await openPgBoss(url, PEER_TASK);
  const { passes, processCounts } = context.plan;
  const cells: R[][] = [];
  try {
    await product().migrate(dataSource);
    const configurations = configurationsFor({
      url,
      dataSource,
      graphile,
      boss,
    });
    for (let pass = 0; pass < passes; pass += 1) {
      let cell = 0;
      for (const configuration of configurations) {
        for (const processes of processCounts) {
          const of = passes > 1 ? `, pass ${pass + 1} of ${passes}` : "";
          context.progress(
            `${title}: ${configuration.system} ${configuration.config}, K=${processes}${of}`,
          );
          (cells[cell] ??= []).push(await measure(configuration, processes));
          cell += 1;
          await dataSource.query("VACUUM ANALYZE");
        }
      }
    }
  } finally {
    await Promise.allSettled([
      graphile.close(),
      boss.close(),
      dataSource.destroy(),
    ]);
    await context.server.dropDatabase(database);
  }
  return cells.map((runs) => medianPass(runs, rateOf));
}

/**
 * medianPass gives the pass whose rate is the median (the lower of the two
 * middle ones for an even count), a failed pass counting as the slowest,
 * with the rates of all passes and the problems of each.
 */
function medianPass<R extends PassedRun>(
  runs: readonly R[],
  rateOf: (run: R) => number,
): R {
  const rate = (run: R) => {
    const value = rateOf(run);
    return Number.isFinite(value) ? value : Number.NEGATIVE_INFINITY;
  };
  const sorted = [...runs].sort((a, b) => rate(a) - rate(b));
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  const problems =
    runs.length === 1
      ? median.problems
      : runs.flatMap((run, pass) =>
          run.problems.map((problem) => `pass ${pass + 1}: ${problem}`),
        );
  return { ...median, passRates: runs.map(rateOf), problems };
}
