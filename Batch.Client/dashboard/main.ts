import "reflect-metadata";
import type * as http from "node:http";
import * as net from "node:net";
import {
  numberOption,
  parseCommandLine,
  runCommand,
} from "../../Contracts/commandLine";
import {
  createConsoleLogger,
  parseLogLevel,
} from "../../Contracts/consoleLogger";
import { BatchError, describeError } from "../../Contracts/errors";
import { connect, requireTaskTable } from "../../DataLayer/connect";
import { readDatabaseSettings } from "../../ormconfig";
import { checkDashboardAccess, DEFAULT_DASHBOARD_HOST } from "./access";
import { createDashboardServer } from "./server";

const USAGE = `Usage: npm run dashboard -- [options]

Serves a web page that follows a run live: tasks by state, throughput per
runner, the live runners, the latest failures (with a button to requeue
them) and the vendor results.

Options:
  --host ADDRESS   address to listen on (default 127.0.0.1)
  --port N         port to listen on (default 8080; 0 picks a free one)
  --token T        require "Authorization: Bearer T" from every request, or
                   ?token=T in the page's address (default DASHBOARD_TOKEN)
  --help           show this text

A host other than a loopback address needs a token: the page can requeue
tasks. The API: GET /api/status, /api/throughput, /api/results, and
POST /api/requeue with {"ids": [...]} or {"all": true}.

The database comes from DATABASE_URL or DB_ADDRESS, DB_PORT, DB_USER,
DB_PASSWORD (or DB_PASSWORD_FILE) and DB_NAME; its role needs
pg_read_all_stats to see which tasks the runners hold. LOG_LEVEL=debug
logs each request.`;

const OPTIONS = {
  host: { type: "string" },
  port: { type: "string" },
  token: { type: "string" },
  help: { type: "boolean" },
} as const;

/** DashboardListenError: the dashboard cannot listen where it was told. */
class DashboardListenError extends BatchError {
  constructor(
    readonly host: string,
    readonly port: number,
    options: { cause: unknown },
  ) {
    super(
      `Cannot start dashboard on ${host} port ${port}: ` +
        describeError(options.cause),
      options,
    );
  }
}

async function main(): Promise<number> {
  const args = parseCommandLine(process.argv.slice(2), OPTIONS);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const host = args.host ?? DEFAULT_DASHBOARD_HOST;
  const port = checkPort(numberOption("port", args.port) ?? 8080);
  const token = checkDashboardAccess(
    host,
    args.token ?? nonEmpty(process.env.DASHBOARD_TOKEN),
  );
  const log = createConsoleLogger({
    level: parseLogLevel(process.env.LOG_LEVEL),
  });

  const settings = readDatabaseSettings();
  const dataSource = await connect(settings, {
    applicationName: "batch-dashboard",
    poolSize: 4,
  });
  try {
    await requireTaskTable(dataSource, settings);
    const server = createDashboardServer(dataSource, { host, token, log });
    const address = await listen(server, host, port);
    console.log(`Dashboard at ${urlOf(address)}`);
    log.info("Dashboard started", { host, port: address.port });

    await untilSignal();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    return 0;
  } finally {
    await dataSource.destroy();
  }
}

/** @throws {RangeError} when the port is not an integer from 0 to 65535. */
function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `Cannot start dashboard: --port must be an integer from 0 to 65535, got ${port}`,
    );
  }
  return port;
}

function listen(
  server: http.Server,
  host: string,
  port: number,
): Promise<net.AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", (error) =>
      reject(new DashboardListenError(host, port, { cause: error })),
    );
    server.listen(port, host, () =>
      resolve(server.address() as net.AddressInfo),
    );
  });
}

function urlOf(address: net.AddressInfo): string {
  const host = net.isIPv6(address.address)
    ? `[${address.address}]`
    : address.address;
  return `http://${host}:${address.port}/`;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === "" ? undefined : text;
}

runCommand(main, USAGE);
