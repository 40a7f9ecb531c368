import { expect } from "chai";
import {
  numberOption,
  parseCommandLine,
  UsageError,
} from "../../Contracts/commandLine";
import { thrownBy } from "../support/thrownBy";

const OPTIONS = {
  "batch-size": { type: "string" },
  "until-empty": { type: "boolean" },
} as const;

describe("parseCommandLine", () => {
  it("reads the declared options", () => {
    const argv = ["--batch-size", "5", "--until-empty"];

    const values = parseCommandLine(argv, OPTIONS);

    expect(values).to.deep.equal({ "batch-size": "5", "until-empty": true });
  });

  it("refuses an unknown option as a usage error", () => {
    const argv = ["--no-such-option"];

    const error = thrownBy(() => parseCommandLine(argv, OPTIONS));

    expect(error).to.be.instanceOf(UsageError);
    expect((error as Error).message).to.include("--no-such-option");
  });

  it("refuses a stray positional argument as a usage error", () => {
    const argv = ["extra"];

    const error = thrownBy(() => parseCommandLine(argv, OPTIONS));

    expect(error).to.be.instanceOf(UsageError);
  });
});

describe("numberOption", () => {
  it("reads a number and leaves an absent option undefined", () => {
    const texts = ["12", "0", undefined];

    const values = texts.map((text) => numberOption("batch-size", text));

    expect(values).to.deep.equal([12, 0, undefined]);
  });

  it("refuses text that is not a number, naming the option", () => {
    const texts = ["abc", "", " ", "Infinity"];

    const errors = texts.map((text) =>
      thrownBy(() => numberOption("batch-size", text)),
    );

    for (const error of errors) {
      expect(error).to.be.instanceOf(UsageError);
      expect((error as Error).message).to.include("--batch-size");
    }
  });
});
