/**
 * The bench: this product, graphile-worker and pg-boss side by side on one
 * PostgreSQL, in one run. `npm run bench` is the quick form; `--full` the
 * long one, for a quiet machine.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { killAll } from "./processes";
import { product } from "./product";
import { FULL, QUICK, Section, SectionReport, SMOKE } from "./section";
import { contextSection } from "./sections/context";
import { enqueueSection } from "./sections/enqueue";
import { fleetSection } from "./sections/fleet";
import { growthSection } from "./sections/growth";
import { latencySection } from "./sections/latency";
import { startupSection } from "./sections/startup";
import { throughputSection } from "./sections/throughput";
import { vendorJobSection } from "./sections/vendorJob";
import { openServer } from "./server";
import { epochMs, round } from "./stats";
import { lineChartSvg, Series } from "./svg";
import { formatTable } from "./table";

const SECTIONS: readonly Section[] = [
  contextSection,
  enqueueSection,
  throughputSection,
  fleetSection,
  latencySection,
  startupSection,
  vendorJobSection,
  growthSection,
];

const RESULTS = path.resolve(__dirname, "..", "results");

const USAGE = `Usage: npm run bench -- [options]

Measures this product, graphile-worker and pg-boss on one PostgreSQL: the
embedded one, or DATABASE_URL's server (its user needs CREATEDB). Each
section runs in a fresh database of its own.

Options:
  --full            the long form (about an hour; a quiet machine)
  --smoke           every section at tiny sizes, as CI runs it (a minute
                    or two; the figures mean little)
  --only NAMES      run only these sections, comma-separated: ${SECTIONS.map((s) => s.name).join(", ")}
                    (growth runs only with --full or when named here)
  --json PATH       where to write the results (default bench/results/latest.json)
  --help            show this text

The chart of throughput goes to bench/results/throughput.svg.`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      full: { type: "boolean", default: false },
      smoke: { type: "boolean", default: false },
      only: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const chosen = chooseSections(values.only, values.full || values.smoke);
  if (values.full && values.smoke) {
    throw new RangeError("Cannot run the bench: choose --full or --smoke");
  }
  const plan = values.full ? FULL : values.smoke ? SMOKE : QUICK;
  const jsonPath = path.resolve(
    values.json ?? path.join(RESULTS, "latest.json"),
  );
  product();

  const server = await openServer();
  openedServer = server;
  const reports: Record<string, SectionReport | { error: string }> = {};
  const started = epochMs();
  let failed = false;
  try {
    for (const section of chosen) {
      console.error(`\n== ${section.name}`);
      const sectionStarted = epochMs();
      try {
        const report = await section.run({
          server,
          plan,
          progress: (line) => console.error(`  ${line}`),
        });
        reports[section.name] = report;
        for (const table of report.tables)
          console.log(`\n${formatTable(table)}`);
      } catch (error) {
        failed = true;
        const message =
          error instanceof Error
            ? (error.stack ?? error.message)
            : String(error);
        reports[section.name] = { error: message };
        console.error(`Section ${section.name} failed: ${message}`);
      }
      console.error(`  (${round((epochMs() - sectionStarted) / 1000)} s)`);
    }
  } finally {
    killAll();
    await server.stop();
  }

  writeResults(jsonPath, {
    startedAt: new Date(performance.timeOrigin).toISOString(),
    seconds: round((epochMs() - started) / 1000),
    plan,
    sections: reports,
  });
  const series = Object.values(reports).flatMap((report) =>
    "series" in report && report.series ? report.series : [],
  );
  if (series.length > 0) writeChart(series);
  return failed ? 1 : 0;
}

function chooseSections(only: string | undefined, full: boolean): Section[] {
  if (only === undefined)
    return SECTIONS.filter((section) => full || !section.fullOnly);
  const names = only.split(",").map((name) => name.trim());
  const unknown = names.filter(
    (name) => !SECTIONS.some((section) => section.name === name),
  );
  if (unknown.length > 0) {
    throw new RangeError(
      `Cannot run the bench: unknown section ${unknown.join(", ")}; expected ${SECTIONS.map((s) => s.name).join(", ")}`,
    );
  }
  return SECTIONS.filter((section) => names.includes(section.name));
}

function writeResults(file: string, results: object): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.error(`\nResults: ${file}`);
}

function writeChart(series: readonly Series[]): void {
  const file = path.join(RESULTS, "throughput.svg");
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(
    file,
    lineChartSvg(series, {
      title: "Throughput of no-op tasks (rate after the first task)",
      xLabel: "worker processes",
      yLabel: "jobs/s",
    }),
  );
  console.error(`Chart: ${file}`);
}

let openedServer: { stop(): Promise<void> } | undefined;

// The embedded server is our child too: stop it rather than orphan it.
const onSignal = () => {
  killAll();
  const stopped = openedServer?.stop() ?? Promise.resolve();
  void stopped.finally(() => process.exit(130));
};
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    killAll();
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  },
);
