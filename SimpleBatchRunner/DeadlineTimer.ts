/**
 * DeadlineTimer keeps the time limits of tasks that run one after another,
 * as a round's tasks do, with a single timer. A task that ends before its
 * limit costs two assignments instead of a timer set and cleared: the
 * timer, once set, stays until it fires, and only then looks at the task
 * that runs by that time, waking again at its deadline if that is later.
 * With limits of minutes and tasks of microseconds, it almost never fires.
 */
export class DeadlineTimer {
  private timeout: NodeJS.Timeout | undefined;
  /** When the timer fires, by `now`. */
  private firesAt = Number.POSITIVE_INFINITY;
  private deadline = Number.POSITIVE_INFINITY;
  private onExpire: (() => void) | undefined;

  /** @param now the clock in milliseconds; performance.now by default. */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * watch calls `onExpire` once `limitMs` have passed, unless clear() or
   * another watch() comes first: it replaces the watch before it.
   */
  watch(limitMs: number, onExpire: () => void): void {
    this.deadline = this.now() + limitMs;
    this.onExpire = onExpire;
    if (this.timeout !== undefined && this.firesAt <= this.deadline) return;
    clearTimeout(this.timeout);
    this.arm(limitMs);
  }

  /** clear ends the current watch; the timer, if set, fires idle. */
  clear(): void {
    this.onExpire = undefined;
  }

  /** dispose ends the current watch and the timer, so none outlives it. */
  dispose(): void {
    this.onExpire = undefined;
    clearTimeout(this.timeout);
    this.timeout = undefined;
  }

  private arm(ms: number): void {
    this.firesAt = this.now() + ms;
    this.timeout = setTimeout(() => this.fire(), ms);
  }

  private fire(): void {
    this.timeout = undefined;
    const onExpire = this.onExpire;
    if (onExpire === undefined) return;
    // Node's timers may fire a little before our clock says: wait the rest.
    const leftMs = this.deadline - this.now();
    if (leftMs > 0) {
      this.arm(leftMs);
      return;
    }
    this.onExpire = undefined;
    onExpire();
  }
}
