import * as http from "node:http";
import { AddressInfo } from "node:net";
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
} from "prom-client";
import type { RunnerMetrics } from "./metrics";

const DURATION_BUCKETS = [
  0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600,
];
const CLAIM_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1,
];

/**
 * createPrometheusMetrics keeps a runner's metrics in a prom-client
 * registry, labelled with the runner's id, beside Node's process metrics.
 */
export function createPrometheusMetrics(runnerId: string): RunnerMetrics & {
  readonly registry: Registry;
} {
  const registry = new Registry();
  registry.setDefaultLabels({ runner_id: runnerId });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const ended = {
    done: new Counter({
      name: "batch_tasks_done_total",
      help: "Tasks done",
      labelNames: ["task_class"],
      registers,
    }),
    failed: new Counter({
      name: "batch_tasks_failed_total",
      help: "Tasks failed for good",
      labelNames: ["task_class"],
      registers,
    }),
    retried: new Counter({
      name: "batch_tasks_retried_total",
      help: "Task attempts that threw and will be retried",
      labelNames: ["task_class"],
      registers,
    }),
  };
  const duration = new Histogram({
    name: "batch_task_duration_seconds",
    help: "Time a task's attempt ran, by class and outcome",
    labelNames: ["task_class", "outcome"],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const claim = new Histogram({
    name: "batch_claim_duration_seconds",
    help: "Time of the claim, its BEGIN included, from its start to the rows in hand",
    buckets: CLAIM_BUCKETS,
    registers,
  });
  const retries = new Counter({
    name: "batch_serialization_retries_total",
    help: "Rounds retried after a REPEATABLE READ serialization failure (40001)",
    registers,
  });
  const errors = new Counter({
    name: "batch_round_errors_total",
    help: "Rounds lost to a connection or runner failure",
    registers,
  });
  const inHand = new Gauge({
    name: "batch_tasks_in_hand",
    help: "Tasks claimed by the round in progress",
    registers,
  });

  return {
    registry,
    taskEnded: (taskClass, end, seconds) => {
      ended[end].inc({ task_class: taskClass });
      duration.observe({ task_class: taskClass, outcome: end }, seconds);
    },
    claimed: (seconds) => claim.observe(seconds),
    serializationRetry: () => retries.inc(),
    roundError: () => errors.inc(),
    tasksInHand: (count) => inHand.set(count),
  };
}

/**
 * serveMetrics answers GET /metrics with the registry in Prometheus' text
 * format, and resolves once it listens.
 */
export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    if (request.method !== "GET" || request.url?.split("?")[0] !== "/metrics") {
      response.writeHead(404).end("Not found: metrics are at /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) =>
        response
          .writeHead(200, { "content-type": registry.contentType })
          .end(text),
      (error: unknown) => response.writeHead(500).end(`${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  server.unref();
  return server;
}

/** The port a server listens on, for servers started on port 0. */
export function portOf(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}
