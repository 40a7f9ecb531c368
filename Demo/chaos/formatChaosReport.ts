import { formatDuration } from "../../Batch.Client/followRun";
import type { ChaosReport } from "./runChaos";

/**
 * formatChaosReport gives a run's figures and its check table, then the
 * last log lines of any runner that died unexpectedly.
 */
export function formatChaosReport(report: ChaosReport): string {
  return [
    ...summaryLines(report),
    "Checks:",
    ...report.checks.map(
      (check) =>
        `  ${check.ok ? "ok  " : "FAIL"}  ${check.name}: ${check.detail}`,
    ),
    verdict(report),
    ...exitLines(report),
  ].join("\n");
}

function summaryLines(report: ChaosReport): string[] {
  const { plan, tally } = report;
  const failedByKind = Object.entries(tally.failedByKind)
    .map(([kind, count]) => `${count} ${kind}`)
    .join(", ");
  const logCounts = Object.entries(report.runnerLogCounts)
    .sort(([, a], [, b]) => b - a)
    .map(([event, count]) => `${count} × ${event}`);
  return [
    `Chaos run, seed ${plan.seed}: ${plan.tasks} tasks, ` +
      `${plan.runners} runners, batch size ${plan.batchSize}` +
      (plan.concurrency > 1 ? `, ${plan.concurrency} lanes each` : ""),
    `Tasks: ${tally.queued} queued, ${tally.done} done, ` +
      `${tally.failed} failed (${failedByKind}), ${tally.pending} pending`,
    `Chaos: ${report.kills} kills, ${report.poisonDeaths} runner deaths by ` +
      `poison, ${report.runnerRestarts} runner restarts ` +
      `(${report.refusedStarts} refused during a database restart), ` +
      `${report.databaseRestarts} database restarts survived`,
    `Work tasks claimed more than once: ${tally.workTasksClaimedAgain} ` +
      `(at most ${tally.mostAttemptsOfAWorkTask} attempts)`,
    `Runner warnings and errors: ${logCounts.join("; ") || "none"}`,
    `Wall time: ${formatDuration(report.wallMs)}`,
  ];
}

function verdict(report: ChaosReport): string {
  const failed = report.checks.filter((check) => !check.ok).length;
  return failed === 0
    ? `All ${report.checks.length} checks hold.`
    : `${failed} of ${report.checks.length} checks failed.`;
}

function exitLines(report: ChaosReport): string[] {
  const odd = [
    ...report.unexpectedExits,
    ...report.stopExits.filter((exit) => exit.code !== 0),
  ];
  return odd.flatMap((exit) => [
    `Last log lines of ${exit.runnerId} ` +
      `(${exit.signal ?? `code ${exit.code}`}, ${exit.cause}):`,
    ...exit.lastLines.map((line) => `  ${line}`),
  ]);
}
