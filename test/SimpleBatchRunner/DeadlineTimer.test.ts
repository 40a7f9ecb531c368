import { expect } from "chai";
import { DeadlineTimer } from "../../SimpleBatchRunner/DeadlineTimer";

describe("DeadlineTimer", function () {
  let timers: DeadlineTimer[];

  beforeEach(function () {
    timers = [];
  });

  afterEach(function () {
    for (const timer of timers) timer.dispose();
  });

  function timer(): DeadlineTimer {
    const created = new DeadlineTimer();
    timers.push(created);
    return created;
  }

  /** expiry watches `limitMs` and resolves with the ms it took to expire. */
  function expiry(deadlines: DeadlineTimer, limitMs: number): Promise<number> {
    const started = performance.now();
    return new Promise((resolve) =>
      deadlines.watch(limitMs, () => resolve(performance.now() - started)),
    );
  }

  it("calls back once the limit has passed", async function () {
    const deadlines = timer();

    const tookMs = await expiry(deadlines, 30);

    expect(tookMs).to.be.at.least(29);
  });

  it("never calls back a watch that was cleared", async function () {
    const deadlines = timer();
    let cleared = 0;
    deadlines.watch(10, () => (cleared += 1));
    deadlines.clear();

    await expiry(timer(), 60);

    expect(cleared).to.equal(0);
  });

  it("waits for the deadline of a watch that replaced an earlier one", async function () {
    const deadlines = timer();
    let replaced = 0;
    deadlines.watch(10, () => (replaced += 1));

    const tookMs = await expiry(deadlines, 60);

    expect(replaced).to.equal(0);
    expect(tookMs).to.be.at.least(59);
  });

  it("calls back a short watch that follows a long one at its own limit", async function () {
    const deadlines = timer();
    deadlines.watch(600_000, () => undefined);

    const tookMs = await expiry(deadlines, 20);

    expect(tookMs).to.be.below(10_000);
  });

  it("calls back a watch made after the timer fired idle", async function () {
    const deadlines = timer();
    deadlines.watch(5, () => undefined);
    deadlines.clear();
    await expiry(timer(), 30);

    const tookMs = await expiry(deadlines, 20);

    expect(tookMs).to.be.at.least(19);
  });

  it("calls nothing back once disposed", async function () {
    const deadlines = timer();
    let disposed = 0;
    deadlines.watch(10, () => (disposed += 1));
    deadlines.dispose();

    await expiry(timer(), 60);

    expect(disposed).to.equal(0);
  });
});
