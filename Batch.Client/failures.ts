import "reflect-metadata";
import type { DataSource } from "typeorm";
import {
  numberOption,
  parseCommandLine,
  runCommand,
  UsageError,
} from "../Contracts/commandLine";
import { BatchError } from "../Contracts/errors";
import { connect, requireTaskTable } from "../DataLayer/connect";
import {
  FailedTask,
  Failures,
  readFailures,
  validateReadFailuresOptions,
} from "../DataLayer/readFailures";
import { requeueFailedTasks, RequeueSelection } from "../DataLayer/requeue";
import { checkTaskIds } from "../DataLayer/taskIds";
import { readDatabaseSettings } from "../ormconfig";

const USAGE = `Usage: npm run failures -- [options]

Lists the failed tasks in blog.batchjob and why they failed, shows one in
full, or returns failed tasks to the queue with their full attempts.

Options:
  --show ID        print one failed task in full: its contract JSON and the
                   whole error text
  --requeue ID     return a failed task to pending; repeat for more tasks
  --requeue-all    return every failed task to pending
  --limit N        tasks listed (default 50, at most 10,000)
  --json           print JSON instead of text
  --help           show this text

A requeued task keeps its last error until it runs again. When a task named
by --requeue does not exist or is not failed, nothing is requeued and the
command exits 1.

The database comes from DATABASE_URL or DB_ADDRESS, DB_PORT, DB_USER,
DB_PASSWORD (or DB_PASSWORD_FILE) and DB_NAME.`;

const OPTIONS = {
  show: { type: "string" },
  requeue: { type: "string", multiple: true },
  "requeue-all": { type: "boolean" },
  limit: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean" },
} as const;

type Arguments = ReturnType<typeof parseCommandLine<typeof OPTIONS>>;

/** What one run of the command does, read from its options. */
type Action =
  | { readonly kind: "list"; readonly limit: number }
  | { readonly kind: "show"; readonly id: string }
  | { readonly kind: "requeue"; readonly selection: RequeueSelection };

/** FailedTaskNotFoundError: --show named a task that is not failed. */
class FailedTaskNotFoundError extends BatchError {
  constructor(readonly id: string) {
    super(`Cannot show task ${id}: no failed task has this id`);
  }
}

async function main(): Promise<number> {
  const args = parseCommandLine(process.argv.slice(2), OPTIONS);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const action = chooseAction(args);
  const json = args.json === true;

  const settings = readDatabaseSettings();
  const dataSource = await connect(settings, {
    applicationName: "batch-failures",
    poolSize: 2,
  });
  try {
    await requireTaskTable(dataSource, settings);
    await perform(dataSource, action, json);
    return 0;
  } finally {
    await dataSource.destroy();
  }
}

function perform(
  dataSource: DataSource,
  action: Action,
  json: boolean,
): Promise<void> {
  switch (action.kind) {
    case "list":
      return list(dataSource, action.limit, json);
    case "show":
      return show(dataSource, action.id, json);
    case "requeue":
      return requeue(dataSource, action.selection, json);
  }
}

/**
 * chooseAction checks the options before any database work: one action at
 * a time, --limit only for the list, and well-formed ids and numbers.
 */
function chooseAction(args: Arguments): Action {
  const chosen = [
    args.show !== undefined ? "--show" : undefined,
    args.requeue !== undefined ? "--requeue" : undefined,
    args["requeue-all"] ? "--requeue-all" : undefined,
  ].filter((name) => name !== undefined);
  if (chosen.length > 1) {
    throw new UsageError(`Options ${chosen.join(" and ")} exclude each other`);
  }
  if (chosen.length > 0 && args.limit !== undefined) {
    throw new UsageError(
      `Option --limit applies to the list, not ${chosen[0]}`,
    );
  }

  if (args.show !== undefined) {
    const [id] = checkTaskIds("Cannot show task", [args.show]);
    return { kind: "show", id };
  }
  if (args.requeue !== undefined) {
    const ids = checkTaskIds("Cannot requeue tasks", args.requeue);
    return { kind: "requeue", selection: { ids } };
  }
  if (args["requeue-all"]) return { kind: "requeue", selection: { all: true } };
  const { limit } = validateReadFailuresOptions({
    limit: numberOption("limit", args.limit),
  });
  return { kind: "list", limit };
}

async function list(
  dataSource: DataSource,
  limit: number,
  json: boolean,
): Promise<void> {
  const failures = await readFailures(dataSource, { limit });
  console.log(json ? JSON.stringify(failures, null, 2) : formatList(failures));
}

async function show(
  dataSource: DataSource,
  id: string,
  json: boolean,
): Promise<void> {
  const { tasks } = await readFailures(dataSource, { ids: [id], limit: 1 });
  if (tasks.length === 0) throw new FailedTaskNotFoundError(id);
  console.log(json ? JSON.stringify(tasks[0], null, 2) : formatTask(tasks[0]));
}

async function requeue(
  dataSource: DataSource,
  selection: RequeueSelection,
  json: boolean,
): Promise<void> {
  const ids = await requeueFailedTasks(dataSource.manager, selection);
  console.log(
    json ? JSON.stringify({ requeued: ids }, null, 2) : formatRequeued(ids),
  );
}

/** formatList writes one line per failed task, then how many failed. */
function formatList(failures: Failures): string {
  if (failures.total === 0) return "No failed tasks.";
  const rows = failures.tasks.map((task) => [
    task.id,
    task.className,
    `${task.attempts}/${task.maxAttempts}`,
    formatTime(task.stoppedAt),
    task.runnerId ?? "-",
    firstLine(task.lastError),
  ]);
  const header = ["ID", "CLASS", "ATTEMPTS", "STOPPED", "RUNNER", "ERROR"];
  const lines = formatTable([header, ...rows]);

  const shown = failures.tasks.length;
  lines.push(
    "",
    shown < failures.total
      ? `Showing ${shown} of ${failures.total} failed tasks; ` +
          "--limit N shows more."
      : `${failures.total} failed ${failures.total === 1 ? "task" : "tasks"}.`,
  );
  return lines.join("\n");
}

/** formatTable pads every column but the last to its widest cell. */
function formatTable(rows: readonly string[][]): string[] {
  const widths = rows[0].map((_, column) =>
    Math.max(...rows.map((row) => row[column].length)),
  );
  return rows.map((row) =>
    row
      .map((cell, column) =>
        column === row.length - 1 ? cell : cell.padEnd(widths[column]),
      )
      .join("  "),
  );
}

/** formatTask writes one failed task in full. */
function formatTask(task: FailedTask): string {
  return [
    `Task ${task.id} failed`,
    `  class:     ${task.className}`,
    `  contract:  ${task.contractName}`,
    `  attempts:  ${task.attempts} of ${task.maxAttempts}`,
    `  stopped:   ${formatTime(task.stoppedAt)}`,
    `  runner:    ${task.runnerId ?? "-"}`,
    "",
    "Contract JSON:",
    task.contractJson,
    "",
    "Error:",
    task.lastError ?? "(none recorded)",
  ].join("\n");
}

// Enough ids to recognise a small requeue; a large one is summed up.
const REQUEUED_IDS_SHOWN = 20;

function formatRequeued(ids: readonly string[]): string {
  if (ids.length === 0) return "No failed tasks to requeue.";
  const shown = ids.slice(0, REQUEUED_IDS_SHOWN).join(", ");
  const more =
    ids.length > REQUEUED_IDS_SHOWN
      ? ` and ${ids.length - REQUEUED_IDS_SHOWN} more`
      : "";
  const tasks = ids.length === 1 ? "task" : `${ids.length} tasks:`;
  return `Requeued ${tasks} ${shown}${more}.`;
}

function formatTime(time: Date | null): string {
  return time === null ? "-" : time.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function firstLine(text: string | null): string {
  return text === null ? "-" : text.split(/\r?\n/, 1)[0];
}

runCommand(main, USAGE);
