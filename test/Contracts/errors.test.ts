import { expect } from "chai";
import { Writable } from "node:stream";
import { QueryFailedError } from "typeorm";
import {
  createConsoleLogger,
  parseLogLevel,
} from "../../Contracts/consoleLogger";
import { BatchError, describeError, toError } from "../../Contracts/errors";
import {
  isSerializationFailure,
  sqlStateOf,
  SqlState,
} from "../../DataLayer/sqlState";
import { thrownBy } from "../support/thrownBy";

/** An error as node-postgres raises it: an Error with a SQLSTATE `code`. */
function pgError(code: string, message = "server refused"): Error {
  return Object.assign(new Error(message), { code, severity: "ERROR" });
}

function refused(address: string): Error {
  return Object.assign(new Error(`connect ECONNREFUSED ${address}:5432`), {
    code: "ECONNREFUSED",
  });
}

/** A stream that keeps every line written to it. */
function lineCollector(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      lines.push(
        ...String(chunk)
          .split("\n")
          .filter((line) => line !== ""),
      );
      done();
    },
  });
  return { stream, lines };
}

describe("BatchError", () => {
  it("names itself after the concrete class", () => {
    class ExampleError extends BatchError {}

    const error = new ExampleError("Cannot do it", { cause: "why" });

    expect(error.name).to.equal("ExampleError");
    expect(error.cause).to.equal("why");
  });
});

describe("toError", () => {
  it("returns an Error unchanged", () => {
    const original = new RangeError("out of range");

    const error = toError(original);

    expect(error).to.equal(original);
  });

  it("wraps a string as the message", () => {
    const thrown = "plain text";

    const error = toError(thrown);

    expect(error).to.be.instanceOf(Error);
    expect(error.message).to.equal("plain text");
  });

  it("wraps an object as its JSON", () => {
    const thrown = { reason: "odd", code: 7 };

    const error = toError(thrown);

    expect(error).to.be.instanceOf(Error);
    expect(error.message).to.include('{"reason":"odd","code":7}');
  });

  it("wraps an object that JSON cannot write", () => {
    const thrown: Record<string, unknown> = {};
    thrown.self = thrown;

    const error = toError(thrown);

    expect(error).to.be.instanceOf(Error);
    expect(error.message).to.include("[object Object]");
  });
});

describe("describeError", () => {
  it("gives the reasons inside an AggregateError of refused connections", () => {
    const error = new AggregateError(
      [refused("::1"), refused("127.0.0.1")],
      "",
    );

    const reason = describeError(error);

    expect(reason).not.to.equal("");
    expect(reason).to.include("ECONNREFUSED");
    expect(reason).to.include("127.0.0.1");
    expect(reason).to.include("::1");
  });

  it("adds the code when the message does not mention it", () => {
    const error = Object.assign(new Error("socket closed"), { code: "EPIPE" });

    const reason = describeError(error);

    expect(reason).to.equal("socket closed (EPIPE)");
  });
});

describe("sqlStateOf", () => {
  it("reads the code of a node-postgres error", () => {
    const error = pgError(SqlState.UniqueViolation);

    const state = sqlStateOf(error);

    expect(state).to.equal("23505");
  });

  it("reads the code of TypeORM's QueryFailedError", () => {
    const error = new QueryFailedError("SELECT 1", [], pgError("40001"));

    const state = sqlStateOf(error);

    expect(state).to.equal("40001");
  });

  it("reads the code from driverError when the wrapper has none", () => {
    const error = Object.assign(new Error("query failed"), {
      driverError: pgError("42P01"),
    });

    const state = sqlStateOf(error);

    expect(state).to.equal("42P01");
  });

  it("gives undefined for an error without a SQLSTATE", () => {
    const error = refused("127.0.0.1");

    const state = sqlStateOf(error);

    expect(state).to.equal(undefined);
  });

  it("gives undefined for a Node system error with a five-letter code", () => {
    const error = Object.assign(new Error("write EPIPE"), { code: "EPIPE" });

    const state = sqlStateOf(error);

    expect(state).to.equal(undefined);
  });
});

describe("isSerializationFailure", () => {
  it("recognises a serialization failure and a deadlock", () => {
    const failures = [pgError("40001"), pgError("40P01")];

    const recognised = failures.map(isSerializationFailure);

    expect(recognised).to.deep.equal([true, true]);
  });

  it("recognises a serialization failure wrapped by TypeORM", () => {
    const error = new QueryFailedError("UPDATE", [], pgError("40001"));

    const recognised = isSerializationFailure(error);

    expect(recognised).to.equal(true);
  });

  it("rejects other server errors and plain errors", () => {
    const others = [pgError("23505"), new Error("40001"), "40001"];

    const recognised = others.map(isSerializationFailure);

    expect(recognised).to.deep.equal([false, false, false]);
  });
});

describe("createConsoleLogger", () => {
  it("writes one JSON line with time, level, message and fields", () => {
    const { stream, lines } = lineCollector();
    const log = createConsoleLogger({ stream, format: "json" });

    log.info("Task done", { taskId: "12" });

    expect(lines).to.have.lengthOf(1);
    const event = JSON.parse(lines[0]);
    expect(event).to.include({ level: "info", msg: "Task done", taskId: "12" });
    expect(Number.isNaN(Date.parse(event.time))).to.equal(false);
  });

  it("writes JSON by default to a stream that is not a terminal", () => {
    const { stream, lines } = lineCollector();
    const log = createConsoleLogger({ stream });

    log.warn("Suspicious state");

    expect(JSON.parse(lines[0])).to.include({ level: "warn" });
  });

  it("carries a child's fields into every event", () => {
    const { stream, lines } = lineCollector();
    const log = createConsoleLogger({ stream, format: "json" });
    const child = log.child({ runnerId: "r1" }).child({ taskId: "7" });

    child.info("Task started", { taskClass: "SummedSalesBatch" });

    expect(JSON.parse(lines[0])).to.include({
      runnerId: "r1",
      taskId: "7",
      taskClass: "SummedSalesBatch",
    });
  });

  it("drops events below its level", () => {
    const { stream, lines } = lineCollector();
    const log = createConsoleLogger({ stream, format: "json", level: "warn" });

    log.debug("Chatter");
    log.info("Outcome");
    log.warn("Suspicious");
    log.error("Broken");

    expect(lines.map((line) => JSON.parse(line).level)).to.deep.equal([
      "warn",
      "error",
    ]);
  });

  it("writes one human line per event in the pretty format", () => {
    const { stream, lines } = lineCollector();
    const log = createConsoleLogger({ stream, format: "pretty" });

    log.child({ runnerId: "r1" }).info("Task done", { taskId: "7" });

    expect(lines).to.have.lengthOf(1);
    expect(lines[0]).to.match(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Task done {"runnerId":"r1","taskId":"7"}$/,
    );
  });

  it("writes an Error field as its one-line description", () => {
    const { stream, lines } = lineCollector();
    const log = createConsoleLogger({ stream, format: "json" });

    log.error("Result not recorded", { error: refused("127.0.0.1") });

    expect(JSON.parse(lines[0]).error).to.equal(
      "connect ECONNREFUSED 127.0.0.1:5432",
    );
  });
});

describe("parseLogLevel", () => {
  it("reads each level name and defaults to info", () => {
    const texts = ["debug", "info", "warn", "error", undefined, ""];

    const levels = texts.map(parseLogLevel);

    expect(levels).to.deep.equal([
      "debug",
      "info",
      "warn",
      "error",
      "info",
      "info",
    ]);
  });

  it("refuses an unknown level name with RangeError", () => {
    const text = "verbose";

    const error = thrownBy(() => parseLogLevel(text));

    expect(error).to.be.instanceOf(RangeError);
    expect((error as Error).message).to.include('"verbose"');
  });

  it("refuses names inherited from Object.prototype", () => {
    const texts = ["toString", "constructor", "__proto__"];

    const errors = texts.map((text) => thrownBy(() => parseLogLevel(text)));

    for (const error of errors) expect(error).to.be.instanceOf(RangeError);
  });
});
