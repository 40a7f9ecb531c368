import { expect } from "chai";
import * as classValidator from "class-validator";
import * as validators from "../../Contracts/validators";

class CheckedThroughFiles {
  @validators.IsInt()
  @validators.Min(1)
  count!: number;

  @validators.IsPositive()
  price!: number;
}

class CheckedThroughIndex {
  @classValidator.IsInt()
  count!: number;
}

describe("the validators loaded from their own files", function () {
  it("are the functions class-validator's index exports", function () {
    expect(validators.IsInt).to.equal(classValidator.IsInt);
    expect(validators.IsPositive).to.equal(classValidator.IsPositive);
    expect(validators.Min).to.equal(classValidator.Min);
  });

  it("record into the store the index validates from, and back", function () {
    const bad = Object.assign(new CheckedThroughFiles(), {
      count: 0.5,
      price: -1,
    });
    const refused = classValidator
      .validateSync(bad)
      .flatMap((error) => Object.keys(error.constraints ?? {}));
    expect(refused).to.have.members(["isInt", "min", "isPositive"]);

    const good = Object.assign(new CheckedThroughFiles(), {
      count: 2,
      price: 3,
    });
    expect(validators.validateSync(good)).to.deep.equal([]);

    const viaIndex = Object.assign(new CheckedThroughIndex(), { count: "x" });
    const errors = validators.validateSync(viaIndex);
    expect(errors.map((error) => error.property)).to.deep.equal(["count"]);
    expect(errors[0]).to.be.instanceOf(classValidator.ValidationError);
  });

  it("passes the options on, as the registry uses them", function () {
    const extra = Object.assign(new CheckedThroughIndex(), {
      count: 1,
      surplus: true,
    });
    const errors = validators.validateSync(extra, {
      whitelist: true,
      forbidNonWhitelisted: true,
    });
    expect(errors.map((error) => error.property)).to.deep.equal(["surplus"]);
  });
});
