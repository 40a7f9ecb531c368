import { expect } from "chai";
import * as classTransformer from "class-transformer";
import { Expose, Transform, Type } from "class-transformer";
import { plainToContract } from "../../Contracts/plainToContract";
import { SummedSalesContract } from "../../Contracts/SummedSalesContract";

class RenamedContract {
  @Expose({ name: "VendorId" })
  vendorId!: number;

  @Expose({ name: "Label" })
  label = "none";

  @Expose()
  count!: number;
}

class BaseContract {
  @Expose({ name: "Id" })
  id!: string;
}

class DerivedContract extends BaseContract {
  @Expose({ name: "Note" })
  note!: string | null;
}

class TypedContract {
  @Expose({ name: "At" })
  @Type(() => Date)
  at!: Date;
}

class TransformedContract {
  @Expose({ name: "N" })
  @Transform(({ value }) => (typeof value === "number" ? value * 2 : value))
  n!: number;
}

class GroupedContract {
  @Expose({ name: "Secret", groups: ["admin"] })
  secret!: string;
}

class AccessorContract {
  @Expose({ name: "Total" })
  get total(): number {
    return 42;
  }
}

class UndecoratedContract {
  value!: number;
}

/** Each class with the keys that it declares, and some it does not. */
const CASES: readonly {
  contractClass: new () => object;
  keys: readonly string[];
}[] = [
  { contractClass: RenamedContract, keys: ["VendorId", "Label", "count"] },
  { contractClass: DerivedContract, keys: ["Id", "Note"] },
  { contractClass: TypedContract, keys: ["At"] },
  { contractClass: TransformedContract, keys: ["N"] },
  { contractClass: GroupedContract, keys: ["Secret"] },
  { contractClass: AccessorContract, keys: ["Total"] },
  { contractClass: UndecoratedContract, keys: ["value"] },
];

/** Keys no class declares under that name, some of them dangerous. */
const STRAY_KEYS = ["vendorId", "id", "extra", "__proto__", "constructor"];

const VALUES = [
  "7",
  7,
  -1.5,
  "",
  true,
  null,
  { nested: 1 },
  [1, 2],
  "2026-01-02T03:04:05Z",
];

/** A seeded generator, so that every run checks the same inputs. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

/**
 * plains builds parsed JSON objects from random keys and values: mostly
 * the declared keys, and a stray one now and then.
 */
function plains(count: number, keys: readonly string[]): object[] {
  const next = random(20261204);
  return Array.from({ length: count }, () => {
    const chosen = keys.filter(() => next() < 0.7);
    if (next() < 0.25) {
      chosen.push(STRAY_KEYS[Math.floor(next() * STRAY_KEYS.length)]);
    }
    const json = chosen
      .map((key) => {
        const value = VALUES[Math.floor(next() * VALUES.length)];
        return `${JSON.stringify(key)}: ${JSON.stringify(value)}`;
      })
      .join(", ");
    return JSON.parse(`{${json}}`) as object;
  });
}

describe("plainToContract", function () {
  let slowCalls: number;
  const original = classTransformer.plainToInstance;

  beforeEach(function () {
    slowCalls = 0;
    (classTransformer as { plainToInstance: unknown }).plainToInstance = (
      ...args: Parameters<typeof original>
    ) => {
      slowCalls += 1;
      return original(...args);
    };
  });

  afterEach(function () {
    (classTransformer as { plainToInstance: unknown }).plainToInstance =
      original;
  });

  it("builds what plainToInstance builds, for any keys and values", function () {
    for (const { contractClass, keys } of CASES) {
      for (const plain of plains(500, keys)) {
        const fast = plainToContract(contractClass, plain);
        const slow = original(contractClass, plain);

        expect(Object.getPrototypeOf(fast)).to.equal(contractClass.prototype);
        expect(fast, JSON.stringify(plain)).to.deep.equal(slow);
      }
    }
  });

  it("copies renamed keys without plainToInstance", function () {
    const contract = plainToContract(RenamedContract, {
      VendorId: 1492,
      count: 3,
    });

    expect(slowCalls).to.equal(0);
    expect(contract).to.be.instanceOf(RenamedContract);
    expect({ ...contract }).to.deep.equal({
      vendorId: 1492,
      label: undefined,
      count: 3,
    });
  });

  it("copies the keys a base class renames", function () {
    const contract = plainToContract(DerivedContract, { Id: "a", Note: null });

    expect(slowCalls).to.equal(0);
    expect({ ...contract }).to.deep.equal({ id: "a", note: null });
  });

  it("leaves undeclared keys and nested values to plainToInstance", function () {
    plainToContract(RenamedContract, { VendorId: 1, vendorId: 2 });
    plainToContract(RenamedContract, { VendorId: { nested: 1 } });
    plainToContract(RenamedContract, JSON.parse('{"__proto__": 1}'));

    expect(slowCalls).to.equal(3);
  });

  it("leaves classes that ask for more than renaming to plainToInstance", function () {
    const typed = plainToContract(TypedContract, { At: "2026-01-02" });
    plainToContract(TransformedContract, { N: 2 });
    plainToContract(GroupedContract, { Secret: "s" });
    plainToContract(AccessorContract, { Total: 1 });
    plainToContract(UndecoratedContract, { value: 1 });

    expect(typed.at).to.be.instanceOf(Date);
    expect(slowCalls).to.equal(5);
  });

  it("reads the example job's contract without plainToInstance", function () {
    const contract = plainToContract(SummedSalesContract, {
      VendorId: 1492,
    });

    expect(slowCalls).to.equal(0);
    expect(contract.vendorId).to.equal(1492);
  });
});
