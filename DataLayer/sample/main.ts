import "reflect-metadata";
import {
  numberOption,
  parseCommandLine,
  runCommand,
  UsageError,
} from "../../Contracts/commandLine";
import {
  createConsoleLogger,
  parseLogLevel,
} from "../../Contracts/consoleLogger";
import { describeDatabase, readDatabaseSettings } from "../../ormconfig";
import { connect } from "../connect";
import { validateGeneratedOptions } from "./generateSample";
import { describeSampleSource, loadSample, SampleSource } from "./loadSample";

const USAGE = `Usage: npm run sample:load -- [--from DIR] [--seed N] [--scale F]

Fills the AdventureWorks purchasing tables purchasing.vendor,
purchaseorderheader and purchaseorderdetail, creating those that are absent.
It refuses to add rows to a table that already holds some.

Options:
  --from DIR    load the official files in DIR: vendor, purchaseorderheader
                and purchaseorderdetail (.csv or .tsv, any letter case), in
                the CSV form with a header row or in the tab-separated form
                of Microsoft's install script
  --seed N      seed of the generated data (default 1)
  --scale F     size of the generated data; 1 gives the real counts, 104
                vendors, 4,012 orders and 8,845 lines (default 1, at most
                1000)
  --help        show this text

Without --from, the data is generated. The database comes from DATABASE_URL
or DB_ADDRESS, DB_PORT, DB_USER, DB_PASSWORD (or DB_PASSWORD_FILE) and
DB_NAME. LOG_LEVEL sets the log level.`;

async function main(): Promise<number> {
  const args = parseCommandLine(process.argv.slice(2), {
    from: { type: "string" },
    seed: { type: "string" },
    scale: { type: "string" },
    help: { type: "boolean" },
  });
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const source = sourceFrom(args);
  const log = createConsoleLogger({
    level: parseLogLevel(process.env.LOG_LEVEL),
  });
  const settings = readDatabaseSettings();

  const dataSource = await connect(settings, {
    applicationName: "batch-sample",
    poolSize: 1,
  });
  try {
    const counts = await loadSample(dataSource, source, log);
    console.log(`Database: ${describeDatabase(settings)}`);
    console.log(`Loaded ${describeSampleSource(source)}:`);
    console.log(`  purchasing.vendor               ${counts.vendors} rows`);
    console.log(`  purchasing.purchaseorderheader  ${counts.headers} rows`);
    console.log(`  purchasing.purchaseorderdetail  ${counts.details} rows`);
  } finally {
    await dataSource.destroy();
  }
  return 0;
}

function sourceFrom(args: {
  from?: string;
  seed?: string;
  scale?: string;
}): SampleSource {
  if (args.from !== undefined) {
    if (args.seed !== undefined || args.scale !== undefined) {
      throw new UsageError(
        "Option --from cannot be combined with --seed or --scale",
      );
    }
    return { kind: "folder", dir: args.from };
  }
  const options = {
    seed: numberOption("seed", args.seed) ?? 1,
    scale: numberOption("scale", args.scale) ?? 1,
  };
  validateGeneratedOptions(options);
  return { kind: "generated", ...options };
}

runCommand(main, USAGE);
