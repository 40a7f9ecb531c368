/** thrownBy runs an action that must throw and gives what it threw. */
export function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error("Expected the action to throw, but it returned");
}

/** rejectionOf awaits work that must fail and gives what it threw. */
export async function rejectionOf(
  work: () => Promise<unknown>,
): Promise<unknown> {
  return work().then(
    () => {
      throw new Error("Expected the work to fail, but it succeeded");
    },
    (error: unknown) => error,
  );
}
