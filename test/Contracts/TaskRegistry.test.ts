import { expect } from "chai";
import { IsInt, IsString, Min } from "class-validator";
import type { IContract } from "../../Contracts/IContract";
import type { ITaskfy } from "../../Contracts/ITaskfy";
import {
  ContractInvalidError,
  ContractMismatchError,
  ContractNotRegisteredError,
  ContractParseError,
  TaskNotRegisteredError,
} from "../../Contracts/registryErrors";
import { SummedSalesContract } from "../../Contracts/SummedSalesContract";
import { TaskRegistry } from "../../Contracts/TaskRegistry";
import { taskRegistry } from "../../SimpleBatchRunner/tasks";
import { SummedSalesBatch } from "../../SimpleBatchRunner/tasks/SummedSalesBatch";
import { thrownBy } from "../support/thrownBy";

class CountContract implements IContract {
  @IsInt()
  @Min(1)
  count!: number;
}

class LabelContract implements IContract {
  @IsString()
  label!: string;
}

class UnregisteredContract implements IContract {
  @IsInt()
  value!: number;
}

class CountTask implements ITaskfy<CountContract> {
  async execute(): Promise<void> {}
}

class LabelTask implements ITaskfy<LabelContract> {
  async execute(): Promise<void> {}
}

function countOf(value: number): CountContract {
  const contract = new CountContract();
  contract.count = value;
  return contract;
}

describe("TaskRegistry", () => {
  let registry: TaskRegistry;

  beforeEach(() => {
    registry = new TaskRegistry();
    registry.registerContract("Count", CountContract);
    registry.registerContract("Label", LabelContract);
    registry.registerTask("CountTask", CountTask, CountContract);
    registry.registerTask("LabelTask", LabelTask, LabelContract);
  });

  describe("resolve", () => {
    it("creates the task and parses its contract into a class instance", () => {
      const json = '{"count":3}';

      const { task, contract } = registry.resolve("CountTask", "Count", json);

      expect(task).to.be.instanceOf(CountTask);
      expect(contract).to.be.instanceOf(CountContract);
      expect((contract as CountContract).count).to.equal(3);
    });

    it("refuses an unknown task name, naming the class", () => {
      const json = '{"count":3}';

      const error = thrownBy(() =>
        registry.resolve("NoSuchTask", "Count", json),
      );

      expect(error).to.be.instanceOf(TaskNotRegisteredError);
      expect((error as TaskNotRegisteredError).className).to.equal(
        "NoSuchTask",
      );
      expect((error as Error).name).to.equal("TaskNotRegisteredError");
    });

    it("refuses a task given another task's contract", () => {
      const json = '{"label":"x"}';

      const error = thrownBy(() =>
        registry.resolve("CountTask", "Label", json),
      );

      expect(error).to.be.instanceOf(ContractMismatchError);
      const mismatch = error as ContractMismatchError;
      expect(mismatch.className).to.equal("CountTask");
      expect(mismatch.contractName).to.equal("Label");
      expect(mismatch.expectedContractName).to.equal("Count");
    });
  });

  describe("parseContract", () => {
    it("refuses an unknown contract name, naming it", () => {
      const json = "{}";

      const error = thrownBy(() =>
        registry.parseContract("NoSuchContract", json),
      );

      expect(error).to.be.instanceOf(ContractNotRegisteredError);
      expect((error as ContractNotRegisteredError).contractName).to.equal(
        "NoSuchContract",
      );
    });

    it("refuses JSON that does not parse, keeping the parser's error", () => {
      const json = '{"count":';

      const error = thrownBy(() => registry.parseContract("Count", json));

      expect(error).to.be.instanceOf(ContractParseError);
      expect((error as ContractParseError).contractName).to.equal("Count");
      expect((error as Error).cause).to.be.instanceOf(SyntaxError);
    });

    it("refuses JSON that is not an object", () => {
      const notObjects = ["[]", "null", "12", '"text"', "true"];

      const errors = notObjects.map((json) =>
        thrownBy(() => registry.parseContract("Count", json)),
      );

      for (const error of errors) {
        expect(error).to.be.instanceOf(ContractParseError);
      }
    });

    it("refuses a contract that fails validation, listing the problem", () => {
      const json = '{"count":0}';

      const error = thrownBy(() => registry.parseContract("Count", json));

      expect(error).to.be.instanceOf(ContractInvalidError);
      const invalid = error as ContractInvalidError;
      expect(invalid.contractName).to.equal("Count");
      expect(invalid.problems).to.have.lengthOf(1);
      expect(invalid.problems[0]).to.include("count");
      expect(invalid.message).to.include(invalid.problems[0]);
    });

    it("refuses a numeric string where a number is required", () => {
      const json = '{"count":"12"}';

      const error = thrownBy(() => registry.parseContract("Count", json));

      expect(error).to.be.instanceOf(ContractInvalidError);
      expect((error as ContractInvalidError).problems.join("; ")).to.include(
        "count must be an integer number",
      );
    });

    it("refuses properties that the contract does not declare", () => {
      const json = '{"count":2,"extra":true}';

      const error = thrownBy(() => registry.parseContract("Count", json));

      expect(error).to.be.instanceOf(ContractInvalidError);
      expect((error as ContractInvalidError).problems).to.deep.equal([
        "property extra should not exist",
      ]);
    });
  });

  describe("registration", () => {
    it("refuses a contract name taken by another class", () => {
      const fresh = new TaskRegistry();
      fresh.registerContract("Shared", CountContract);

      const error = thrownBy(() =>
        fresh.registerContract("Shared", LabelContract),
      );

      expect(error).to.be.instanceOf(TypeError);
    });

    it("refuses a task name taken by another class", () => {
      const error = thrownBy(() =>
        registry.registerTask("CountTask", LabelTask, LabelContract),
      );

      expect(error).to.be.instanceOf(TypeError);
      expect(registry.contractNameOf("CountTask")).to.equal("Count");
    });

    it("allows registering the same classes again under their names", () => {
      const again = () => {
        registry.registerContract("Count", CountContract);
        registry.registerTask("CountTask", CountTask, CountContract);
      };

      expect(again).not.to.throw();

      expect(registry.taskNames()).to.deep.equal(["CountTask", "LabelTask"]);
    });

    it("refuses a task whose contract class is not registered", () => {
      const error = thrownBy(() =>
        registry.registerTask("Orphan", CountTask, UnregisteredContract),
      );

      expect(error).to.be.instanceOf(TypeError);
      expect(registry.taskNames()).not.to.include("Orphan");
    });

    it("lists task names sorted and gives each task's contract name", () => {
      registry.registerTask("AnotherTask", CountTask, CountContract);

      const names = registry.taskNames();

      expect(names).to.deep.equal(["AnotherTask", "CountTask", "LabelTask"]);
      expect(registry.contractNameOf("LabelTask")).to.equal("Label");
    });
  });

  describe("serialize", () => {
    it("gives the contract name and its JSON", () => {
      const contract = countOf(7);

      const serialized = registry.serialize(contract);

      expect(serialized).to.deep.equal({
        contractName: "Count",
        contractJson: '{"count":7}',
      });
    });

    it("refuses to serialize a contract that fails validation", () => {
      const contract = countOf(0);

      const error = thrownBy(() => registry.serialize(contract));

      expect(error).to.be.instanceOf(ContractInvalidError);
    });

    it("refuses to serialize a contract whose class is not registered", () => {
      const contract = new UnregisteredContract();
      contract.value = 1;

      const error = thrownBy(() => registry.serialize(contract));

      expect(error).to.be.instanceOf(ContractNotRegisteredError);
    });
  });
});

describe("taskRegistry with the runner's tasks", () => {
  it("registers SummedSalesBatch taking SummedSalesContract", () => {
    const json = '{"VendorId":1492}';

    const { task, contract } = taskRegistry.resolve(
      "SummedSalesBatch",
      "SummedSalesContract",
      json,
    );

    expect(taskRegistry.taskNames()).to.include("SummedSalesBatch");
    expect(taskRegistry.contractNameOf("SummedSalesBatch")).to.equal(
      "SummedSalesContract",
    );
    expect(task).to.be.instanceOf(SummedSalesBatch);
    expect(contract).to.be.instanceOf(SummedSalesContract);
  });

  it("parses the stored VendorId into vendorId", () => {
    const json = '{"VendorId":1492}';

    const contract = taskRegistry.parseContract("SummedSalesContract", json);

    expect(contract).to.be.instanceOf(SummedSalesContract);
    expect((contract as SummedSalesContract).vendorId).to.equal(1492);
  });

  it("serializes a summed sales contract to exactly the original's JSON", () => {
    const contract = SummedSalesContract.of(1492);

    const serialized = taskRegistry.serialize(contract);

    expect(serialized).to.deep.equal({
      contractName: "SummedSalesContract",
      contractJson: '{"VendorId":1492}',
    });
  });

  it("serializes a parsed summed sales contract back unchanged", () => {
    const json = '{"VendorId":1492}';
    const contract = taskRegistry.parseContract("SummedSalesContract", json);

    const serialized = taskRegistry.serialize(contract);

    expect(serialized.contractJson).to.equal(json);
  });

  it("refuses a VendorId of zero", () => {
    const json = '{"VendorId":0}';

    const error = thrownBy(() =>
      taskRegistry.parseContract("SummedSalesContract", json),
    );

    expect(error).to.be.instanceOf(ContractInvalidError);
  });

  it("refuses a fractional VendorId", () => {
    const json = '{"VendorId":1.5}';

    const error = thrownBy(() =>
      taskRegistry.parseContract("SummedSalesContract", json),
    );

    expect(error).to.be.instanceOf(ContractInvalidError);
  });

  it("refuses the camelCase property name vendorId", () => {
    const json = '{"vendorId":1492}';

    const error = thrownBy(() =>
      taskRegistry.parseContract("SummedSalesContract", json),
    );

    expect(error).to.be.instanceOf(ContractInvalidError);
  });

  it("refuses a contract carrying vendorId beside VendorId", () => {
    const json = '{"VendorId":1492,"vendorId":5}';

    const error = thrownBy(() =>
      taskRegistry.parseContract("SummedSalesContract", json),
    );

    expect(error).to.be.instanceOf(ContractInvalidError);
    expect((error as ContractInvalidError).problems).to.include(
      "property vendorId should not exist",
    );
  });
});
