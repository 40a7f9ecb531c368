/** The no-op task's name in graphile-worker and its queue in pg-boss. */
export const PEER_TASK = "bench_noop";
