import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { expect } from "chai";
import { chromium, Browser, Page } from "playwright-core";
import type { DataSource } from "typeorm";
import {
  createDashboardServer,
  DashboardOptions,
} from "../../Batch.Client/dashboard/server";
import { queueVendorJob } from "../../Batch.Client/queueVendorJob";
import { enqueueTasks, NewTask } from "../../DataLayer/enqueue";
import { migrate } from "../../DataLayer/migrate";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import { taskRegistry } from "../../SimpleBatchRunner/tasks";
import {
  allTasks,
  CHECKOUT,
  loadAdventureWorks,
  waitFor,
} from "../support/fixtures";
import { createTestDatabase, TestDatabase } from "../support/testServer";

// Compiled entry points: build with `npx tsc -p .` before running this file.
const DIST = path.join(CHECKOUT, "dist");
const DASHBOARD = path.join(DIST, "Batch.Client", "dashboard", "main.js");
const RUNNER = path.join(DIST, "SimpleBatchRunner", "main.js");
// Quick rounds and beats, so that the page has something to follow.
const RUNNER_ARGS = [
  ...["--poll-ms", "50"],
  ...["--hold-ms", "100"],
  ...["--heartbeat-ms", "200"],
];

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = path.join(CHECKOUT, "test-artifacts", "dashboard.png");
const TOKEN = "s3cret-token-for-tests";
const NEEDS_TOKEN =
  "a host other than a loopback address needs --token or DASHBOARD_TOKEN";

function vendorTask(vendorId: number): NewTask {
  return {
    className: "SummedSalesBatch",
    contractName: "SummedSalesContract",
    contractJson: JSON.stringify({ VendorId: vendorId }),
  };
}

/** Reply is a response read whole: status, headers and parsed JSON. */
interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  readonly json: any;
}

interface RequestOptions {
  readonly method?: string;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: string;
}

/**
 * request sends one request with exactly the headers given (fetch would
 * refuse some, such as Host), and reads the whole response.
 */
function request(url: string, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      url,
      { method: options.method ?? "GET", headers: options.headers },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        response.on("end", () => {
          resolve({
            status: response.statusCode!,
            headers: response.headers,
            text,
            json: parseJson(text),
          });
        });
      },
    );
    outgoing.on("error", reject);
    outgoing.end(options.body);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function postJson(
  url: string,
  body: string,
  headers: http.OutgoingHttpHeaders = {},
): Promise<Reply> {
  return request(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body,
  });
}

/** startDashboard listens on a free port of 127.0.0.1. */
async function startDashboard(
  dataSource: DataSource,
  options: DashboardOptions = {},
): Promise<{ server: http.Server; url: string }> {
  const server = createDashboardServer(dataSource, options);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

async function stopDashboard(server: http.Server | undefined): Promise<void> {
  if (server === undefined || !server.listening) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe("dashboard server", function () {
  let database: TestDatabase;
  let dataSource: DataSource;
  let server: http.Server | undefined;
  let url: string;

  beforeEach(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    await migrate(dataSource);
    await enqueueTasks(dataSource.manager, [1, 2, 3, 4].map(vendorTask));
    await dataSource.query(
      `UPDATE blog.batchjob SET status = $1, runnerid = 'r1',
         stoppedat = now() - interval '3 seconds' WHERE id IN (1, 2)`,
      [TaskStatus.Done],
    );
    await dataSource.query(
      `UPDATE blog.batchjob SET status = $1, runnerid = 'r2',
         stoppedat = now(), lasterror = $2 WHERE id = 3`,
      [TaskStatus.Failed, "Error: <b>vendor 3</b> broke\n    at x.js:1:1"],
    );
    ({ server, url } = await startDashboard(dataSource));
  });

  afterEach(async function () {
    await stopDashboard(server);
    await dataSource?.destroy();
    await database?.drop();
  });

  it("serves a page that runs only its own inline script and style", async function () {
    const reply = await request(`${url}/`);

    expect(reply.status).to.equal(200);
    expect(reply.headers["content-type"]).to.equal("text/html; charset=utf-8");
    const policy = String(reply.headers["content-security-policy"]);
    const nonce = /script-src 'nonce-([^']+)'/.exec(policy)?.[1];
    expect(nonce).to.be.a("string");
    expect(reply.text).to.include(`<script nonce="${nonce}">`);
    expect(reply.text).to.include('data-testid="count-done"');
    expect(reply.text).not.to.match(/(src|href)="(?!data:)/);
  });

  it("answers /api/status with the counts, runners and failures", async function () {
    const reply = await request(`${url}/api/status`);

    expect(reply.status).to.equal(200);
    expect(reply.json.counts).to.deep.equal({
      pending: 1,
      waitingToRetry: 0,
      inProgress: 0,
      done: 2,
      failed: 1,
      total: 4,
    });
    expect(reply.json.recentFailures).to.have.length(1);
    expect(reply.json.recentFailures[0]).to.deep.include({
      id: "3",
      error: "Error: <b>vendor 3</b> broke",
    });
  });

  it("answers /api/throughput with tasks ended per bucket and runner", async function () {
    const reply = await request(`${url}/api/throughput`);

    expect(reply.status).to.equal(200);
    expect(reply.json.bucketMs).to.equal(5000);
    expect(reply.json.total).to.have.length(120);
    const sum = (counts: number[]) => counts.reduce((a, b) => a + b, 0);
    expect(sum(reply.json.total)).to.equal(3);
    const runners = reply.json.runners.map(
      (runner: { runnerId: string; counts: number[] }) => [
        runner.runnerId,
        sum(runner.counts),
      ],
    );
    expect(runners).to.deep.equal([
      ["r1", 2],
      ["r2", 1],
    ]);
  });

  it("answers /api/results with the vendor results", async function () {
    await dataSource.query(
      `INSERT INTO blog.summedsalesresult
         (taskid, vendorid, total, items, runnerid, computedat)
       VALUES (1, 1492, '22678.7715', 176, 'r1', now()),
              (2, 1500, '10.5000', 3, 'r2', now())`,
    );

    const reply = await request(`${url}/api/results`);

    expect(reply.status).to.equal(200);
    expect(reply.json).to.deep.equal({
      count: 2,
      results: [
        { vendorId: 1492, total: "22678.7715", items: 176, runnerId: "r1" },
        { vendorId: 1500, total: "10.5000", items: 3, runnerId: "r2" },
      ],
    });
  });

  it("requeues a failed task by id", async function () {
    const reply = await postJson(`${url}/api/requeue`, '{"ids": ["3"]}');

    expect(reply.status).to.equal(200);
    expect(reply.json).to.deep.equal({ requeued: ["3"] });
    const tasks = await allTasks(dataSource);
    expect(tasks[2].status).to.equal(TaskStatus.Pending);
  });

  it("requeues every failed task when asked for all", async function () {
    const reply = await postJson(`${url}/api/requeue`, '{"all": true}');

    expect(reply.status).to.equal(200);
    expect(reply.json).to.deep.equal({ requeued: ["3"] });
  });

  it("refuses a body that is not JSON with 400", async function () {
    const reply = await postJson(`${url}/api/requeue`, "{ids: [3]");

    expect(reply.status).to.equal(400);
    expect(reply.json.error).to.match(/^Cannot read the body as JSON/);
  });

  it("refuses malformed ids and bodies of another shape with 400", async function () {
    const badId = await postJson(`${url}/api/requeue`, '{"ids": ["3x"]}');
    const noIds = await postJson(`${url}/api/requeue`, '{"ids": []}');
    const shape = await postJson(`${url}/api/requeue`, '{"all": "yes"}');

    expect(badId.status).to.equal(400);
    expect(badId.json.error).to.equal(
      'Cannot requeue tasks: a task id is a positive integer, got "3x"',
    );
    expect(noIds.status).to.equal(400);
    expect(noIds.json.error).to.equal("Cannot requeue tasks: no task id given");
    expect(shape.status).to.equal(400);
    expect(shape.json.error).to.include(
      'expected {"ids": [1, 2]} or {"all": true}',
    );
  });

  it("answers 409 with the reason when a task is not failed", async function () {
    const reply = await postJson(`${url}/api/requeue`, '{"ids": [1, 3, 99]}');

    expect(reply.status).to.equal(409);
    expect(reply.json.error).to.equal(
      "Cannot requeue tasks 1, 99: 1 is done, 99 does not exist",
    );
    const tasks = await allTasks(dataSource);
    expect(tasks[2].status).to.equal(TaskStatus.Failed);
  });

  it("refuses other methods with 405", async function () {
    const get = await request(`${url}/api/requeue`);
    const post = await postJson(`${url}/api/status`, "{}");
    const remove = await request(`${url}/`, { method: "DELETE" });

    expect([get.status, post.status, remove.status]).to.deep.equal([
      405, 405, 405,
    ]);
    expect(get.headers.allow).to.equal("POST");
    expect(post.headers.allow).to.equal("GET");
  });

  it("answers 404 for a path it does not serve", async function () {
    const reply = await request(`${url}/api/nothing`);

    expect(reply.status).to.equal(404);
  });

  it("refuses a requeue from another origin or not sent as JSON", async function () {
    const foreign = await postJson(`${url}/api/requeue`, '{"all": true}', {
      Origin: "http://evil.example",
    });
    const plain = await request(`${url}/api/requeue`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: '{"all": true}',
    });

    expect(foreign.status).to.equal(403);
    expect(plain.status).to.equal(415);
    const tasks = await allTasks(dataSource);
    expect(tasks[2].status).to.equal(TaskStatus.Failed);
  });

  it("refuses a Host header other than loopback when it has no token", async function () {
    const reply = await request(`${url}/api/status`, {
      headers: { Host: "rebound.example:8080" },
    });

    expect(reply.status).to.equal(403);
  });

  it("refuses to start on a host other than loopback without a token", function () {
    const hosts = ["0.0.0.0", "::", "192.168.1.20", "dashboard.internal"];
    for (const host of hosts) {
      expect(() => createDashboardServer(dataSource, { host })).to.throw(
        RangeError,
        `Cannot start dashboard on ${host}: ${NEEDS_TOKEN}`,
      );
    }
    expect(() =>
      createDashboardServer(dataSource, { host: "0.0.0.0", token: TOKEN }),
    ).not.to.throw();
  });

  it("requires the token from every request when it has one", async function () {
    await stopDashboard(server);
    ({ server, url } = await startDashboard(dataSource, { token: TOKEN }));
    const bearer = { Authorization: `Bearer ${TOKEN}` };

    const none = await request(`${url}/api/status`);
    const wrong = await request(`${url}/api/status`, {
      headers: { Authorization: "Bearer nope" },
    });
    const right = await request(`${url}/api/status`, { headers: bearer });
    const pageByQuery = await request(`${url}/?token=${TOKEN}`);
    const apiByQuery = await request(`${url}/api/status?token=${TOKEN}`);
    const requeue = await postJson(`${url}/api/requeue`, '{"all": true}');
    const requeueWithToken = await postJson(
      `${url}/api/requeue`,
      '{"all": true}',
      bearer,
    );

    expect(none.status).to.equal(401);
    expect(none.headers["www-authenticate"]).to.match(/^Bearer/);
    expect(wrong.status).to.equal(401);
    expect(right.status).to.equal(200);
    expect(pageByQuery.status).to.equal(200);
    expect(apiByQuery.status).to.equal(401);
    expect(requeue.status).to.equal(401);
    expect(requeueWithToken.status).to.equal(200);
  });

  it("the command refuses a host other than loopback without a token", async function () {
    const env: NodeJS.ProcessEnv = { ...database.env };
    delete env.DASHBOARD_TOKEN;
    const child = spawn(process.execPath, [DASHBOARD, "--host", "0.0.0.0"], {
      env,
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));

    const code = await new Promise((resolve) => child.on("close", resolve));

    expect(code).to.equal(1);
    expect(stderr).to.include(
      `Cannot start dashboard on 0.0.0.0: ${NEEDS_TOKEN}`,
    );
  });
});

describe("dashboard in a browser", function () {
  this.timeout(120_000);

  let database: TestDatabase;
  let dataSource: DataSource;
  let server: http.Server | undefined;
  let url: string;
  let browser: Browser | undefined;
  let runners: ChildProcess[];
  let runnerLogs: Map<string, string[]>;

  before(function () {
    if (!fs.existsSync(CHROMIUM)) {
      console.warn(
        `    Skipping the browser test: ${CHROMIUM} is missing; ` +
          "install it with .ci/install-chromium",
      );
      this.skip();
    }
  });

  beforeEach(async function () {
    runners = [];
    runnerLogs = new Map();
    database = await createTestDatabase();
    dataSource = await database.connect();
    await loadAdventureWorks(dataSource);
    await queueVendorJob(dataSource, taskRegistry);
    // A class nobody registered: the runner fails it at once, for good.
    await enqueueTasks(dataSource.manager, [
      { ...vendorTask(1), className: "NoSuchTask" },
    ]);
    ({ server, url } = await startDashboard(dataSource));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  afterEach(async function () {
    if (this.currentTest?.state === "failed") {
      for (const [id, lines] of runnerLogs) {
        console.error(`Runner ${id}:\n${lines.slice(-15).join("\n")}`);
      }
    }
    await killRunners();
    await browser?.close();
    await stopDashboard(server);
    await dataSource?.destroy();
    await database?.drop();
  });

  function startRunner(id: string): void {
    const args = [RUNNER, ...RUNNER_ARGS, "--id", id];
    const child = spawn(process.execPath, args, {
      env: { ...database.env, LOG_LEVEL: "info" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const lines: string[] = [];
    runnerLogs.set(id, lines);
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) =>
      lines.push(...chunk.split("\n").filter((line) => line !== "")),
    );
    runners.push(child);
  }

  async function killRunners(): Promise<void> {
    const alive = runners.filter(
      (child) => child.exitCode === null && child.signalCode === null,
    );
    const exited = alive.map(
      (child) => new Promise((resolve) => child.once("exit", resolve)),
    );
    for (const child of alive) child.kill("SIGKILL");
    await Promise.all(exited);
  }

  async function shown(page: Page, testId: string): Promise<string> {
    return (await page.getByTestId(testId).textContent()) ?? "";
  }

  async function doneShown(page: Page): Promise<number> {
    return Number(await shown(page, "count-done"));
  }

  /** until waits for a condition on the page, up to 30 s. */
  function until(
    what: string,
    condition: () => Promise<boolean>,
  ): Promise<void> {
    return waitFor(what, condition, 30_000);
  }

  async function runnersListed(page: Page): Promise<string> {
    const ids = await page
      .getByTestId("runner-row")
      .evaluateAll((rows) =>
        rows.map((row) => row.getAttribute("data-runner-id")),
      );
    return ids.join(",");
  }

  it("follows a run live, lists runners and failures, and requeues a failure", async function () {
    const page = await browser!.newPage({
      viewport: { width: 1280, height: 1000 },
    });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });
    await page.goto(`${url}/`);
    await until(
      "the page to show the queue",
      async () => (await shown(page, "count-total")) === "105",
    );

    startRunner("r1");
    startRunner("r2");
    await until("some tasks done", async () => (await doneShown(page)) > 0);
    const first = await doneShown(page);
    await until("more tasks done", async () => (await doneShown(page)) > first);

    await until(
      "both runners listed",
      async () => (await runnersListed(page)) === "r1,r2",
    );
    const failure = page.locator(
      '[data-testid="failure-row"][data-task-id="105"]',
    );
    await until("the failure listed", async () => (await failure.count()) > 0);
    expect(await failure.textContent()).to.include("NoSuchTask");
    expect(await failure.locator("td.error").textContent()).to.match(
      /^TaskNotRegisteredError: .*"NoSuchTask" is not registered/,
    );
    await until("all done", async () => (await doneShown(page)) === 104);
    const results = page.getByTestId("result-row");
    await until("all listed", async () => (await results.count()) === 104);
    const lines = page.locator("#chart polyline");
    await until("the chart drawn", async () => (await lines.count()) === 3);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Stopped first, the runners cannot fail the requeued task again before
    // the test looks at it.
    await killRunners();
    await failure.getByTestId("requeue-button").click();

    await until(
      "the requeue confirmed",
      async () => (await shown(page, "message")) === "Requeued #105.",
    );
    await until("the failure gone", async () => (await failure.count()) === 0);
    const tasks = await allTasks(dataSource);
    expect(tasks[104]).to.deep.include({
      id: "105",
      status: TaskStatus.Pending,
    });
    expect(pageErrors).to.deep.equal([]);
  });
});
