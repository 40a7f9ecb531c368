import { expect } from "chai";
import {
  pauseBeforeNextRead,
  pollDelayMs,
  timed,
} from "../../Batch.Client/pollPacing";

describe("pollDelayMs", function () {
  it("keeps the interval while reads are quick", function () {
    expect(pollDelayMs(500, 0)).to.equal(500);
    expect(pollDelayMs(500, 55)).to.equal(500);
  });

  it("waits long enough that reads take at most a tenth of the time", function () {
    for (const readMs of [56, 150, 2_000]) {
      const delayMs = pollDelayMs(500, readMs);
      expect(readMs / (readMs + delayMs), `${readMs} ms`).to.be.at.most(0.1);
      expect(delayMs).to.be.below(readMs * 9 + 1);
    }
  });
});

describe("pauseBeforeNextRead", function () {
  it("ends at once, without an error, when its signal aborts", async function () {
    const stop = new AbortController();
    const started = performance.now();
    const pause = pauseBeforeNextRead(60_000, 0, stop.signal);

    stop.abort();
    await pause;

    expect(performance.now() - started).to.be.below(1_000);
  });
});

describe("timed", function () {
  it("gives the read's value and how long it took", async function () {
    const { value, ms } = await timed(async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return "read";
    });

    expect(value).to.equal("read");
    expect(ms).to.be.at.least(25);
  });
});
