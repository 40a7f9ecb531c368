import type {
  LiveRunner,
  RecentFailure,
  Status,
} from "../DataLayer/readStatus";
import { formatDuration } from "./followRun";

/**
 * formatStatus writes a status for a person at a terminal: counts by
 * state, the oldest due task's age, throughput, the live runners and the
 * latest failures. Text from the database has its control characters
 * replaced, so that a task's error cannot move the cursor or recolour the
 * terminal.
 */
export function formatStatus(status: Status): string {
  return [
    ...formatCounts(status),
    "",
    ...formatRunners(status.runners, status.generatedAt),
    "",
    ...formatFailures(status.recentFailures),
  ].join("\n");
}

function formatCounts(status: Status): string[] {
  const { counts } = status;
  const width = String(counts.total).length;
  const row = (label: string, value: number) =>
    `  ${label.padEnd(18)}${String(value).padStart(width)}`;
  const age = status.oldestPendingAgeMs;
  return [
    `Tasks at ${formatTime(status.generatedAt)}: ${counts.total} in all`,
    row("pending (due)", counts.pending),
    row("in progress", counts.inProgress),
    row("waiting to retry", counts.waitingToRetry),
    row("done", counts.done),
    row("failed", counts.failed),
    `Oldest due task waiting: ${age === null ? "-" : formatDuration(age)}`,
    `Throughput: ${status.throughputLastMinute.toFixed(2)} tasks/s ` +
      "over the last minute",
  ];
}

function formatRunners(runners: readonly LiveRunner[], now: Date): string[] {
  if (runners.length === 0) return ["No live runners."];
  const header = ["RUNNER", "HOST", "PID", "IN HAND", "DONE", "FAILED", "SEEN"];
  const rows = runners.map((runner) => [
    clean(runner.runnerId),
    clean(runner.host),
    String(runner.pid),
    String(runner.tasksInHand),
    String(runner.tasksDone),
    String(runner.tasksFailed),
    `${formatDuration(sinceMs(now, runner.lastSeenAt))} ago`,
  ]);
  const live =
    runners.length === 1 ? "1 live runner" : `${runners.length} live runners`;
  return [`${live}:`, ...formatTable([header, ...rows])];
}

function formatFailures(failures: readonly RecentFailure[]): string[] {
  if (failures.length === 0) return ["No failed tasks."];
  return [
    "Latest failures:",
    ...formatTable(
      failures.map((failure) => [
        `#${failure.id}`,
        clean(failure.className),
        formatTime(failure.stoppedAt),
        clean(failure.error ?? "-"),
      ]),
    ),
  ];
}

/** formatTable indents rows and pads every column but the last. */
function formatTable(rows: readonly string[][]): string[] {
  const widths = rows[0].map((_, column) =>
    Math.max(...rows.map((row) => row[column].length)),
  );
  return rows.map(
    (row) =>
      "  " +
      row
        .map((cell, column) =>
          column === row.length - 1 ? cell : cell.padEnd(widths[column]),
        )
        .join("  "),
  );
}

function sinceMs(now: Date, then: Date): number {
  return Math.max(0, now.getTime() - then.getTime());
}

function formatTime(time: Date | null): string {
  return time === null ? "-" : time.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function clean(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}
