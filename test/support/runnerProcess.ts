import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import * as readline from "node:readline";
import { CHECKOUT, waitFor } from "./fixtures";

/** RunnerProcessExit is how a runner process ended. */
export interface RunnerProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** LogLine is one line a runner wrote to stderr, parsed when it is JSON. */
export interface LogLine {
  readonly raw: string;
  /** The parsed JSON object; undefined when the line is not JSON. */
  readonly json: Record<string, unknown> | undefined;
}

/** RunnerProcessOptions say how to start one runner process. */
export interface RunnerProcessOptions {
  /** The runner's --id; its sessions are named `batch-runner:<id>`. */
  readonly id: string;
  /** Runner options other than --id. */
  readonly args: readonly string[];
  /** Environment, e.g. a TestDatabase's env plus LOG_LEVEL. */
  readonly env: NodeJS.ProcessEnv;
}

/**
 * RunnerProcess is one compiled runner (dist/SimpleBatchRunner/main.js)
 * started by a test, with its stdout and stderr kept line by line.
 */
export class RunnerProcess {
  readonly stdout: string[] = [];
  readonly stderr: LogLine[] = [];
  readonly exited: Promise<RunnerProcessExit>;
  private readonly child: ChildProcess;

  constructor(readonly options: RunnerProcessOptions) {
    const entry = path.join(CHECKOUT, "dist", "SimpleBatchRunner", "main.js");
    this.child = spawn(
      process.execPath,
      [entry, ...options.args, "--id", options.id],
      { env: options.env, stdio: ["ignore", "pipe", "pipe"] },
    );
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    readline
      .createInterface({ input: this.child.stdout! })
      .on("line", (line) => this.stdout.push(line));
    readline
      .createInterface({ input: this.child.stderr! })
      .on("line", (raw) => this.stderr.push({ raw, json: parseJson(raw) }));
  }

  get id(): string {
    return this.options.id;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** signal sends a signal to this process only, while it runs. */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** logs are the JSON log events with message `msg`, or all of them. */
  logs(msg?: string): Record<string, unknown>[] {
    return this.stderr
      .flatMap((line) => (line.json === undefined ? [] : [line.json]))
      .filter((event) => msg === undefined || event.msg === msg);
  }

  /** waitForLog waits until the runner has logged an event with `msg`. */
  waitForLog(msg: string, timeoutMs = 10_000): Promise<void> {
    return waitFor(
      `runner ${this.id} to log "${msg}"`,
      () => this.logs(msg).length > 0 || !this.running,
      timeoutMs,
    ).then(() => {
      if (this.logs(msg).length === 0) {
        throw new Error(`Runner ${this.id} exited before logging "${msg}"`);
      }
    });
  }

  /**
   * exitWithin waits for the process to exit, failing after `timeoutMs`
   * (the process is then left running for the caller's cleanup).
   */
  async exitWithin(timeoutMs: number): Promise<RunnerProcessExit> {
    const late = new Error(
      `Runner ${this.id} did not exit within ${timeoutMs} ms`,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(late), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * RunnerProcesses starts runner processes and remembers them, so that a
 * test's afterEach can kill exactly those it started, whatever happened.
 */
export class RunnerProcesses {
  private readonly started: RunnerProcess[] = [];

  /** start launches one runner process. */
  start(options: RunnerProcessOptions): RunnerProcess {
    const runner = new RunnerProcess(options);
    this.started.push(runner);
    return runner;
  }

  /** All the runners started so far, in order. */
  get all(): readonly RunnerProcess[] {
    return this.started;
  }

  /** The runners still running. */
  get running(): RunnerProcess[] {
    return this.started.filter((runner) => runner.running);
  }

  /**
   * killAll sends SIGKILL to every runner still running (a stopped one
   * included: SIGKILL needs no SIGCONT) and waits for them to exit.
   */
  async killAll(): Promise<void> {
    const alive = this.running;
    for (const runner of alive) runner.signal("SIGKILL");
    await Promise.all(alive.map((runner) => runner.exited));
  }

  /** describe gives each runner's exit and last stderr lines, for failures. */
  describe(lines = 15): string {
    return this.started
      .map((runner) => {
        const tail = runner.stderr.slice(-lines).map((line) => line.raw);
        const state = runner.running ? "running" : "exited";
        const title = `  ${runner.id} (pid ${runner.pid}, ${state}):`;
        return [title, ...tail.map((line) => `    ${line}`)].join("\n");
      })
      .join("\n");
  }
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
