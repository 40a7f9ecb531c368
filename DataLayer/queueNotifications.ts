import "./navigator";
import { Client } from "pg";
import type { EntityManager } from "typeorm";
import { describeError } from "../Contracts/errors";
import type { Logger } from "../Contracts/Logger";
import type { DatabaseSettings } from "../ormconfig";

/** The channel on which enqueueing announces new tasks. */
export const QUEUED_CHANNEL = "batchjob_queued";

/**
 * announceQueued tells idle runners that tasks were queued. PostgreSQL
 * delivers the notification when the caller's transaction commits, never
 * before the rows are visible, and folds repeats within one transaction.
 */
export async function announceQueued(manager: EntityManager): Promise<void> {
  await manager.query("SELECT pg_notify($1, '')", [QUEUED_CHANNEL]);
}

/** QueueListener wakes a runner when tasks are queued. */
export interface QueueListener {
  close(): Promise<void>;
}

const RECONNECT_MAX_MS = 5000;

/**
 * listenForQueued calls `onQueued` for each announcement, on a connection
 * of its own that it reopens with capped backoff when it drops. A lost
 * announcement costs only latency: runners also poll.
 */
export function listenForQueued(
  settings: DatabaseSettings,
  onQueued: () => void,
  log: Logger,
): QueueListener {
  let client: Client | undefined;
  let closed = false;
  let failures = 0;

  const open = async (): Promise<void> => {
    if (closed) return;
    const next = new Client(clientConfig(settings));
    next.on("notification", onQueued);
    next.on("error", () => undefined);
    next.once("end", () => {
      if (client !== next) return;
      client = undefined;
      if (!closed) void reopen();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${QUEUED_CHANNEL}`);
      // Closed while connecting: an open connection would keep the process
      // alive after its runner stopped.
      if (closed) {
        await next.end().catch(() => undefined);
        return;
      }
      client = next;
      failures = 0;
      // Tasks queued while the connection was down were not announced.
      onQueued();
    } catch (error) {
      log.debug("Cannot listen for queued tasks", {
        error: describeError(error),
      });
      await next.end().catch(() => undefined);
      if (!closed) void reopen();
    }
  };
  const reopen = async (): Promise<void> => {
    failures += 1;
    await new Promise((resolve) =>
      setTimeout(
        resolve,
        Math.min(RECONNECT_MAX_MS, 100 * 2 ** failures),
      ).unref(),
    );
    await open();
  };

  void open();
  return {
    close: async () => {
      closed = true;
      await client?.end().catch(() => undefined);
    },
  };
}

function clientConfig(settings: DatabaseSettings) {
  if (settings.url !== undefined) {
    return {
      connectionString: settings.url,
      application_name: "batch-listener",
    };
  }
  return {
    host: settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password,
    database: settings.database,
    application_name: "batch-listener",
    keepAlive: true,
  };
}
