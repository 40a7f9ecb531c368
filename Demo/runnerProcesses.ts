import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import * as readline from "node:readline";

/** RunnerProcessOptions say how many runners to start and how. */
export interface RunnerProcessOptions {
  readonly count: number;
  /** Extra runner options, e.g. ["--until-empty", "--hold-ms", "250"]. */
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** The checkout, holding dist/SimpleBatchRunner/main.js. */
  readonly root: string;
  /** Receives each line a runner writes to stdout, with its name. */
  readonly onLine: (runnerId: string, line: string) => void;
}

/** RunnerExit is how one runner process ended. */
export interface RunnerExit {
  readonly runnerId: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * startRunnerProcesses launches runner processes from the compiled build,
 * named runner-01, runner-02, ..., and returns them with a promise of their
 * exits. Compiled JavaScript starts in a fraction of a second; a
 * type-checking ts-node per process would take seconds each.
 */
export function startRunnerProcesses(options: RunnerProcessOptions): {
  processes: ChildProcess[];
  exited: Promise<RunnerExit[]>;
} {
  const entry = path.join(options.root, "dist", "SimpleBatchRunner", "main.js");
  const width =
    String(options.count).length < 2 ? 2 : String(options.count).length;
  const processes: ChildProcess[] = [];
  const exits: Promise<RunnerExit>[] = [];

  for (let index = 1; index <= options.count; index += 1) {
    const runnerId = `runner-${String(index).padStart(width, "0")}`;
    const child = spawn(
      process.execPath,
      [entry, ...options.args, "--id", runnerId],
      {
        env: options.env,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    readline
      .createInterface({ input: child.stdout! })
      .on("line", (line) => options.onLine(runnerId, line));
    processes.push(child);
    exits.push(
      new Promise((resolve) =>
        child.once("exit", (code, signal) =>
          resolve({ runnerId, code, signal }),
        ),
      ),
    );
  }
  return { processes, exited: Promise.all(exits) };
}
