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

/**
 * runMatrix installs every system in a fresh database named `database`,
 * then measures each configuration at each of the plan's process counts,
 * with a VACUUM ANALYZE after each run so that one run's dead rows do not
 * slow the next. The database is dropped at the end.
 */
export async function runMatrix<C extends Configuration, R>(
  context: SectionContext,
  database: string,
  title: string,
  configurationsFor: (systems: Systems) => readonly C[],
  measure: (configuration: C, processes: number) => Promise<R>,
): Promise<R[]> {
  const url = await context.server.freshDatabase(database);
  const dataSource = await connectTo(url);
  const graphile = await openGraphile(url);
  const boss = await openPgBoss(url, PEER_TASK);
  const runs: R[] = [];
  try {
    await product().migrate(dataSource);
    const configurations = configurationsFor({
      url,
      dataSource,
      graphile,
      boss,
    });
    for (const configuration of configurations) {
      for (const processes of context.plan.processCounts) {
        context.progress(
          `${title}: ${configuration.system} ${configuration.config}, K=${processes}`,
        );
        runs.push(await measure(configuration, processes));
        await dataSource.query("VACUUM ANALYZE");
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
  return runs;
}
