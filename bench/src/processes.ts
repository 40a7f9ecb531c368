import { ChildProcess, spawn } from "node:child_process";
import * as readline from "node:readline";
import { epochMs } from "./stats";
import { pollUntil } from "./wait";

/** Started is one child process the bench launched. */
export interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  /** Epoch milliseconds just before the spawn. */
  readonly launchedAt: number;
  /** Resolves when the process has exited; never rejects. */
  readonly exited: Promise<Exit>;
}

/** Exit is how a child ended, with the tail of its stderr. */
export interface Exit {
  readonly name: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderrTail: string;
}

/** LaunchOptions say what to run and where its stdout lines go. */
export interface LaunchOptions {
  readonly name: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Receives each stdout line; default: stdout is ignored. */
  readonly onLine?: (line: string) => void;
}

// Only a runner's last lines matter (its "Runner stopped" counts), so
// stderr is kept as a bounded tail rather than parsed line by line, which
// would tax the cores it shares.
const STDERR_TAIL_CHARS = 16_384;

const live = new Set<ChildProcess>();

/**
 * launchNode starts `node ...args` and tracks it for killAll. Extra CA
 * certificates are left out of its environment: Node reads them at every
 * start, a cost of the machine, not of the system measured, and none of
 * the connections here use TLS.
 */
export function launchNode(options: LaunchOptions): Started {
  const launchedAt = epochMs();
  const { NODE_EXTRA_CA_CERTS: _, ...env } = options.env ?? process.env;
  const child = spawn(process.execPath, options.args, {
    env,
    stdio: ["ignore", options.onLine ? "pipe" : "ignore", "pipe"],
  });
  live.add(child);
  if (options.onLine && child.stdout) {
    readline
      .createInterface({ input: child.stdout })
      .on("line", options.onLine);
  }

  let tail = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL_CHARS);
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once("error", (error) => {
      tail += `\n${error.message}`;
    });
    child.once("close", (code, signal) => {
      live.delete(child);
      resolve({ name: options.name, code, signal, stderrTail: tail });
    });
  });
  return { name: options.name, child, launchedAt, exited };
}

/**
 * stopAll sends SIGTERM to the given processes, then SIGKILL to those
 * still running after `graceMs`, and resolves with their exits.
 */
export async function stopAll(
  started: readonly Started[],
  graceMs = 10_000,
): Promise<Exit[]> {
  for (const process of started) {
    if (process.child.exitCode === null) process.child.kill("SIGTERM");
  }
  const timer = setTimeout(() => {
    for (const process of started) process.child.kill("SIGKILL");
  }, graceMs);
  const exits = await Promise.all(started.map((process) => process.exited));
  clearTimeout(timer);
  return exits;
}

/**
 * awaitExits waits for processes that end by themselves; those still
 * running after `timeoutMs` are stopped and the call throws.
 *
 * @throws {Error} naming the processes that ran over.
 */
export async function awaitExits(
  started: readonly Started[],
  timeoutMs: number,
): Promise<Exit[]> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), timeoutMs);
  });
  const all = Promise.all(started.map((process) => process.exited));
  const first = await Promise.race([all, deadline]);
  clearTimeout(timer);
  if (first !== "late") return first;

  const late = started.filter((process) => process.child.exitCode === null);
  await stopAll(started, 2000);
  throw new Error(
    `Processes ran over ${timeoutMs} ms: ${late.map((process) => process.name).join(", ")}`,
  );
}

/** killAll ends every process still running, at once; for exit paths. */
export function killAll(): void {
  for (const child of live) child.kill("SIGKILL");
  live.clear();
}

/** describeExit gives a one-line reason for a failed exit. */
export function describeExit(exit: Exit): string {
  const how = exit.signal ?? `code ${exit.code}`;
  const lastLines = exit.stderrTail.trim().split("\n").slice(-3).join(" | ");
  return `${exit.name} exited with ${how}: ${lastLines}`;
}

/**
 * waitForDrain polls until `drained` says so, or every process has exited,
 * and gives the time it was first seen drained. A drain of `tasks` may
 * take 10 ms per task plus a minute for process start-up.
 *
 * @throws {Error} when the run takes longer than that; its processes are
 *   stopped first.
 */
export async function waitForDrain(
  started: readonly Started[],
  drained: () => Promise<boolean>,
  options: { tasks: number; intervalMs: number },
): Promise<number> {
  let exited = false;
  void Promise.all(started.map((process) => process.exited)).then(() => {
    exited = true;
  });
  try {
    await pollUntil(
      "the queue to drain",
      async () => (await drained()) || exited,
      {
        intervalMs: options.intervalMs,
        timeoutMs: 60_000 + options.tasks * 10,
      },
    );
  } catch (error) {
    await stopAll(started, 2000);
    throw error;
  }
  return epochMs();
}
