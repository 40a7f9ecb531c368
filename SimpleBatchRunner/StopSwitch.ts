/**
 * StopSwitch tells its subscribers, once, that they must stop, and why. It
 * does what an AbortController does for the runner's own use, at a price a
 * task can pay thousands of times a second: subscribing is a set insert,
 * not an event listener, and the AbortSignal that task code expects is
 * made only when asked for.
 */
export class StopSwitch {
  private controller: AbortController | undefined;
  private subscribers: Set<(reason: unknown) => void> | undefined;
  private stopReason: unknown;
  private isStopped = false;

  /** Whether stop() was called. */
  get stopped(): boolean {
    return this.isStopped;
  }

  /** The reason given to stop(); undefined before. */
  get reason(): unknown {
    return this.stopReason;
  }

  /** An AbortSignal that aborts with this switch. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.isStopped) this.controller.abort(this.stopReason);
    }
    return this.controller.signal;
  }

  /** stop flips the switch; calls after the first do nothing. */
  stop(reason: unknown): void {
    if (this.isStopped) return;
    this.isStopped = true;
    this.stopReason = reason;
    this.controller?.abort(reason);
    const subscribers = this.subscribers;
    this.subscribers = undefined;
    for (const subscriber of subscribers ?? []) subscriber(reason);
  }

  /**
   * subscribe calls `onStop` when the switch is flipped, at once if it was
   * already, and returns the way to unsubscribe.
   */
  subscribe(onStop: (reason: unknown) => void): () => void {
    if (this.isStopped) {
      onStop(this.stopReason);
      return () => undefined;
    }
    this.subscribers ??= new Set();
    this.subscribers.add(onStop);
    return () => this.subscribers?.delete(onStop);
  }
}
