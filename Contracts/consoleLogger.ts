import { describeError } from "./errors";
import type { LogFields, Logger } from "./Logger";

/** LogLevel orders events; a logger drops those below its level. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Readonly<Record<LogLevel, number>> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
};

/** ConsoleLoggerOptions choose what is written and how. */
export interface ConsoleLoggerOptions {
  /** Lowest level written; default "info". */
  readonly level?: LogLevel;
  /** "pretty" for people, "json" for machines; default: pretty on a TTY. */
  readonly format?: "pretty" | "json";
  /** Where lines go; default stderr, so that stdout stays the tasks'. */
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * parseLogLevel reads a level name such as the LOG_LEVEL variable's.
 *
 * @throws {RangeError} for a name that is not a level.
 */
export function parseLogLevel(text: string | undefined): LogLevel {
  if (text === undefined || text === "") return "info";
  if (Object.hasOwn(LEVELS, text)) return text as LogLevel;
  throw new RangeError(
    `Cannot read LOG_LEVEL: expected one of ${Object.keys(LEVELS).join(", ")}, got "${text}"`,
  );
}

/**
 * createConsoleLogger writes one line per event: JSON with `time`, `level`
 * and `msg`, or a short human line on a terminal. An Error in a field is
 * written as its one-line description.
 */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const threshold = LEVELS[options.level ?? "info"];
  const format = options.format ?? (stream.isTTY ? "pretty" : "json");
  const write = format === "json" ? jsonLine : prettyLine;

  const make = (bound: LogFields): Logger => {
    const emit = (level: LogLevel) => (message: string, fields?: LogFields) => {
      if (LEVELS[level] < threshold) return;
      stream.write(write(level, message, { ...bound, ...fields }) + "\n");
    };
    return {
      debug: emit("debug"),
      info: emit("info"),
      warn: emit("warn"),
      error: emit("error"),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make({});
}

function jsonLine(level: LogLevel, message: string, fields: LogFields): string {
  return JSON.stringify({
    time: new Date().toISOString(),
    level,
    msg: message,
    ...plainFields(fields),
  });
}

function prettyLine(level: LogLevel, message: string, fields: LogFields): string {
  const time = new Date().toISOString().slice(11, 23);
  const pairs = Object.entries(plainFields(fields)).map(
    ([key, value]) =>
      `${key}=${typeof value === "string" && !/\s/.test(value) ? value : JSON.stringify(value)}`,
  );
  return [time, level.toUpperCase().padEnd(5), message, ...pairs].join(" ");
}

function plainFields(fields: LogFields): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    plain[key] = value instanceof Error ? describeError(value) : value;
  }
  return plain;
}
