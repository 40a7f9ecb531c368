import { parseArgs, ParseArgsConfig } from "node:util";
import { BatchError, describeError, toError } from "./errors";

/** UsageError: the command line itself is wrong; the usage text follows. */
export class UsageError extends BatchError {}

/**
 * parseCommandLine parses `argv` strictly: unknown options and stray
 * arguments are usage errors, not silently ignored.
 *
 * @throws {UsageError} with the parser's reason.
 */
export function parseCommandLine<
  T extends NonNullable<ParseArgsConfig["options"]>,
>(argv: readonly string[], options: T) {
  try {
    return parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(toError(error).message);
  }
}

/**
 * numberOption reads a numeric option's text, leaving range checks to
 * the options' own validation.
 *
 * @throws {UsageError} when the text is not a number.
 */
export function numberOption(
  name: string,
  text: string | undefined,
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    throw new UsageError(`Option --${name} takes a number, got "${text}"`);
  }
  return value;
}

/**
 * runCommand runs an entry point's main function. An error a user can act
 * on (a bad value, an unreachable database) is printed as one line and
 * exits 1, or 2 for a usage error with the usage text; anything else is a
 * bug and keeps its stack.
 */
export function runCommand(
  main: () => Promise<number | void>,
  usage: string,
): void {
  main().then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (thrown: unknown) => {
      const error = toError(thrown);
      if (error instanceof UsageError) {
        process.stderr.write(`${error.message}\n\n${usage}\n`);
        process.exitCode = 2;
      } else if (error instanceof BatchError || error instanceof RangeError) {
        process.stderr.write(`${describeError(error)}\n`);
        process.exitCode = 1;
      } else {
        process.stderr.write(`${error.stack ?? describeError(error)}\n`);
        process.exitCode = 1;
      }
    },
  );
}
