import { ChildProcess, spawn } from "node:child_process";
import * as readline from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import type { Random } from "./chaosPlan";

/** RunnerFleetOptions say which runners to keep working and how. */
export interface RunnerFleetOptions {
  /** Runner processes kept working at once. */
  readonly size: number;
  /** The runner's compiled entry point, dist/SimpleBatchRunner/main.js. */
  readonly entry: string;
  /** Runner options; the fleet adds --id. */
  readonly args: readonly string[];
  /** The runners' environment; the fleet sets LOG_LEVEL to debug. */
  readonly env: NodeJS.ProcessEnv;
  /** Whether a runner that dies before stop() is replaced. */
  readonly restart: boolean;
  readonly random: Random;
  /** Receives every line a runner writes to stderr, with its name. */
  readonly onLog?: (runnerId: string, line: string) => void;
  /** Receives one line per kill, death and replacement. */
  readonly onEvent?: (line: string) => void;
}

/**
 * ExitCause is why a runner ended: killed by the fleet; killed by a poison
 * task (a SIGKILL the fleet did not send); refused to start because the
 * database was down; stopped by stop(); or none of these, which is a
 * finding.
 */
export type ExitCause =
  "killed" | "poison" | "refused-start" | "stopped" | "unexpected";

/** RunnerExitRecord is how one runner process ended. */
export interface RunnerExitRecord {
  readonly runnerId: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly cause: ExitCause;
  /** Whether it had logged "Runner started", so its handlers were set. */
  readonly ready: boolean;
  /** Its last log lines, to explain an exit that needs explaining. */
  readonly lastLines: readonly string[];
}

/** FleetStats count what happened to the fleet's runners. */
export interface FleetStats {
  readonly kills: number;
  readonly poisonDeaths: number;
  readonly refusedStarts: number;
  readonly restarts: number;
  readonly unexpectedExits: readonly RunnerExitRecord[];
  /** Warn and error log events of all runners, by level and message. */
  readonly logCounts: Readonly<Record<string, number>>;
}

interface Runner {
  readonly id: string;
  readonly slot: number;
  readonly child: ChildProcess;
  readonly lastLines: string[];
  readonly exited: Promise<RunnerExitRecord>;
  ready: boolean;
  killed: boolean;
  terminated: boolean;
  sawOutage: boolean;
}

const LINES_KEPT = 30;
const READY_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 40_000;

/**
 * RunnerFleet keeps a number of runner processes working: it starts them,
 * kills random ones on request, replaces those that die, and stops them
 * all with SIGTERM, reporting how each ended.
 */
export class RunnerFleet {
  private readonly live = new Set<Runner>();
  private readonly generations = new Map<number, number>();
  private readonly waitingSlots: number[] = [];
  private readonly logCounts: Record<string, number> = {};
  private readonly unexpected: RunnerExitRecord[] = [];
  private counts = { kills: 0, poisonDeaths: 0, refusedStarts: 0, restarts: 0 };
  private stopping = false;
  private inOutage = false;

  constructor(private readonly options: RunnerFleetOptions) {}

  /** start launches the fleet's first runners, runner-01 and on. */
  start(): void {
    for (let slot = 1; slot <= this.options.size; slot += 1) this.spawn(slot);
  }

  /** A copy of the counts so far. */
  get stats(): FleetStats {
    return {
      ...this.counts,
      unexpectedExits: [...this.unexpected],
      logCounts: { ...this.logCounts },
    };
  }

  /** The runners alive now. */
  get size(): number {
    return this.live.size;
  }

  /**
   * outage marks the database as down or back. While it is down, runners
   * that die are replaced only once it is back, and a runner still
   * starting may fail to connect, which is then no finding.
   */
  outage(down: boolean): void {
    this.inOutage = down;
    if (down) {
      for (const runner of this.live) runner.sawOutage ||= !runner.ready;
      return;
    }
    for (const slot of this.waitingSlots.splice(0)) this.spawn(slot);
  }

  /**
   * killRandom sends SIGKILL to a random runner that has started, and
   * returns its name, or undefined when none has started yet.
   */
  killRandom(): string | undefined {
    const ready = [...this.live].filter((r) => r.ready && !r.killed);
    if (ready.length === 0) return undefined;
    const runner = ready[Math.floor(this.options.random() * ready.length)];
    runner.killed = true;
    runner.child.kill("SIGKILL");
    this.counts.kills += 1;
    this.options.onEvent?.(`Killed ${runner.id} with SIGKILL`);
    return runner.id;
  }

  /**
   * stop replaces no more runners, waits until every runner has started
   * (a runner signalled before it set its handlers would die of the
   * signal), sends each SIGTERM and resolves with how each ended. Runners
   * still alive after 40 s get SIGKILL. A second call finds no runners.
   */
  async stop(): Promise<RunnerExitRecord[]> {
    this.stopping = true;
    this.waitingSlots.length = 0;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while ([...this.live].some((r) => !r.ready) && Date.now() < deadline) {
      await sleep(50);
    }

    // A runner killed just now may not have exited yet: it is no runner to
    // stop, and its exit was counted as a kill.
    const killed = [...this.live].filter((r) => r.killed);
    const runners = [...this.live].filter((r) => !r.killed);
    for (const runner of runners) {
      runner.terminated = true;
      runner.child.kill("SIGTERM");
    }
    const timer = setTimeout(() => {
      for (const runner of runners) runner.child.kill("SIGKILL");
    }, EXIT_TIMEOUT_MS);
    const exits = await Promise.all(runners.map((r) => r.exited));
    await Promise.all(killed.map((r) => r.exited));
    clearTimeout(timer);
    return exits;
  }

  private spawn(slot: number): void {
    const generation = (this.generations.get(slot) ?? 0) + 1;
    this.generations.set(slot, generation);
    const name = `runner-${String(slot).padStart(2, "0")}`;
    const id = generation === 1 ? name : `${name}.${generation}`;

    const child = spawn(
      process.execPath,
      [this.options.entry, ...this.options.args, "--id", id],
      {
        env: { ...this.options.env, LOG_LEVEL: "debug" },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    const runner = this.track(id, slot, child);
    this.live.add(runner);
    void runner.exited.then((exit) => this.ended(runner, exit));
  }

  private track(id: string, slot: number, child: ChildProcess): Runner {
    const exited = new Promise<RunnerExitRecord>((resolve) => {
      child.once("error", () => undefined);
      child.once("close", (code, signal) =>
        resolve({
          runnerId: id,
          code,
          signal,
          cause: this.causeOf(runner, code, signal),
          ready: runner.ready,
          lastLines: [...runner.lastLines],
        }),
      );
    });
    const runner: Runner = {
      id,
      slot,
      child,
      exited,
      lastLines: [],
      ready: false,
      killed: false,
      terminated: false,
      sawOutage: this.inOutage,
    };
    readline
      .createInterface({ input: child.stderr! })
      .on("line", (line) => this.logged(runner, line));
    return runner;
  }

  private logged(runner: Runner, line: string): void {
    this.options.onLog?.(runner.id, line);
    runner.lastLines.push(line);
    if (runner.lastLines.length > LINES_KEPT) runner.lastLines.shift();

    const event = parseLogLine(line);
    if (event?.msg === "Runner started") runner.ready = true;
    const notable = event?.level === "warn" || event?.level === "error";
    if (event === undefined || notable) {
      const key = event ? `${event.level}: ${event.msg}` : "unparsed line";
      this.logCounts[key] = (this.logCounts[key] ?? 0) + 1;
    }
  }

  private causeOf(
    runner: Runner,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): ExitCause {
    if (runner.terminated) return "stopped";
    if (runner.killed) return "killed";
    if (signal === "SIGKILL") return "poison";
    if (!runner.ready && runner.sawOutage && code === 1) return "refused-start";
    return "unexpected";
  }

  private ended(runner: Runner, exit: RunnerExitRecord): void {
    this.live.delete(runner);
    if (exit.cause === "stopped") return;
    if (exit.cause === "poison") this.counts.poisonDeaths += 1;
    if (exit.cause === "refused-start") this.counts.refusedStarts += 1;
    if (exit.cause === "unexpected") this.unexpected.push(exit);

    const replacing = !this.stopping && this.options.restart;
    if (exit.cause !== "killed") {
      const then = replacing ? "; replacing it" : "";
      this.options.onEvent?.(`${describeExit(exit)}${then}`);
    }
    if (replacing) this.replace(runner.slot);
  }

  private replace(slot: number): void {
    this.counts.restarts += 1;
    if (this.inOutage) this.waitingSlots.push(slot);
    else this.spawn(slot);
  }
}

function describeExit(exit: RunnerExitRecord): string {
  const how = exit.signal ?? `code ${exit.code}`;
  if (exit.cause === "poison") {
    return `${exit.runnerId} died of a poison task (${how})`;
  }
  if (exit.cause === "refused-start") {
    return `${exit.runnerId} could not connect during the database restart`;
  }
  return `${exit.runnerId} exited unexpectedly (${how})`;
}

interface LogEvent {
  readonly level?: unknown;
  readonly msg?: unknown;
}

function parseLogLine(line: string): LogEvent | undefined {
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === "object" && parsed !== null
      ? (parsed as LogEvent)
      : undefined;
  } catch {
    return undefined;
  }
}
