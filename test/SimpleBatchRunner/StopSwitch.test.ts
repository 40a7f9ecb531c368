import { expect } from "chai";
import { StopSwitch } from "../../SimpleBatchRunner/StopSwitch";

describe("StopSwitch", function () {
  it("tells each subscriber once, with the reason, and the signal too", function () {
    const stop = new StopSwitch();
    const heard: unknown[] = [];
    stop.subscribe((reason) => heard.push(reason));
    const signal = stop.signal;

    stop.stop("first");
    stop.stop("second");

    expect(heard).to.deep.equal(["first"]);
    expect(stop.stopped).to.equal(true);
    expect(stop.reason).to.equal("first");
    expect(signal.aborted).to.equal(true);
    expect(signal.reason).to.equal("first");
  });

  it("gives an aborted signal when asked for one after the stop", function () {
    const stop = new StopSwitch();
    stop.stop("late");

    expect(stop.signal.aborted).to.equal(true);
    expect(stop.signal.reason).to.equal("late");
  });

  it("calls a late subscriber at once, and never one that unsubscribed", function () {
    const stop = new StopSwitch();
    const heard: string[] = [];
    const unsubscribe = stop.subscribe(() => heard.push("gone"));
    unsubscribe();

    stop.stop("now");
    stop.subscribe(() => heard.push("late"));

    expect(heard).to.deep.equal(["late"]);
  });
});
