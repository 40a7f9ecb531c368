import * as crypto from "node:crypto";
import * as http from "node:http";
import type { DataSource } from "typeorm";
import { BatchError, describeError } from "../../Contracts/errors";
import { Logger, silentLogger } from "../../Contracts/Logger";
import { readStatus } from "../../DataLayer/readStatus";
import { readThroughput } from "../../DataLayer/readThroughput";
import { readVendorResults } from "../../DataLayer/readVendorResults";
import {
  requeueFailedTasks,
  RequeueRefusedError,
} from "../../DataLayer/requeue";
import {
  checkDashboardAccess,
  DEFAULT_DASHBOARD_HOST,
  hasToken,
  isLoopbackRequest,
  isSameOrigin,
} from "./access";
import { renderPage } from "./page";
import { parseRequeueSelection } from "./requeueRequest";

/** DashboardOptions configure createDashboardServer. */
export interface DashboardOptions {
  /**
   * The address the caller will listen on, default 127.0.0.1. It only
   * decides whether a token is required: the caller calls `listen`.
   */
  readonly host?: string;
  /** Required from every request when set; required off loopback. */
  readonly token?: string;
  /** Requests are logged at debug, failures at error; default silent. */
  readonly log?: Logger;
}

/** HttpError is a request refused with a status and a reason. */
class HttpError extends BatchError {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** What a route's handler returns: a JSON body, or the page. */
type Reply = { readonly json: unknown } | { readonly page: true };

interface Route {
  readonly method: "GET" | "POST";
  handle(request: http.IncomingMessage): Promise<Reply>;
}

// Request bodies are a few ids; anything larger is a mistake or an attack.
const MAX_BODY_BYTES = 64 * 1024;

/**
 * createDashboardServer builds the dashboard's HTTP server: the page at
 * `/`, and `/api/status`, `/api/throughput`, `/api/results` (GET) and
 * `/api/requeue` (POST, the only one that writes). It is not listening
 * yet: call `listen(port, host)` with the host given here.
 *
 * @throws {RangeError} when the host is not a loopback address and there
 *   is no token, or the token is malformed.
 */
export function createDashboardServer(
  dataSource: DataSource,
  options: DashboardOptions = {},
): http.Server {
  const host = options.host ?? DEFAULT_DASHBOARD_HOST;
  const token = checkDashboardAccess(host, options.token);
  const log = options.log ?? silentLogger;
  const routes = routesOf(dataSource);

  return http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://dashboard.invalid");
    log.debug("Dashboard request", {
      method: request.method,
      path: url.pathname,
    });
    serve(routes, token, request, url).then(
      (reply) => send(response, 200, reply),
      (error: unknown) => refuse(response, error, log),
    );
  });
}

function routesOf(dataSource: DataSource): ReadonlyMap<string, Route> {
  return new Map<string, Route>([
    ["/", { method: "GET", handle: async () => ({ page: true }) }],
    [
      "/api/status",
      {
        method: "GET",
        handle: async () => ({ json: await readStatus(dataSource) }),
      },
    ],
    [
      "/api/throughput",
      {
        method: "GET",
        handle: async () => ({ json: await readThroughput(dataSource) }),
      },
    ],
    [
      "/api/results",
      {
        method: "GET",
        handle: async () => ({ json: await readVendorResults(dataSource) }),
      },
    ],
    [
      "/api/requeue",
      {
        method: "POST",
        handle: async (request) => {
          const selection = parseRequeueSelection(await readJson(request));
          const ids = await requeueFailedTasks(dataSource.manager, selection);
          return { json: { requeued: ids } };
        },
      },
    ],
  ]);
}

/**
 * serve checks a request in order (known path, access, method, origin)
 * and runs its route.
 */
async function serve(
  routes: ReadonlyMap<string, Route>,
  token: string | undefined,
  request: http.IncomingMessage,
  url: URL,
): Promise<Reply> {
  const route = routes.get(url.pathname);
  if (route === undefined) throw new HttpError(404, "No such page");
  checkAccess(request, url, token);

  if (request.method !== route.method) {
    throw new HttpError(405, `Use ${route.method} for ${url.pathname}`, {
      Allow: route.method,
    });
  }
  if (route.method === "POST") checkPost(request);
  return route.handle(request);
}

function checkAccess(
  request: http.IncomingMessage,
  url: URL,
  token: string | undefined,
): void {
  if (token === undefined) {
    if (!isLoopbackRequest(request)) {
      throw new HttpError(403, "Host header must name a loopback address");
    }
    return;
  }
  if (!hasToken(request, url, token, url.pathname === "/")) {
    throw new HttpError(401, "Send the dashboard token as a bearer token", {
      "WWW-Authenticate": 'Bearer realm="dashboard"',
    });
  }
}

/**
 * checkPost accepts JSON from the dashboard's own origin only: a form or
 * a plain-text fetch from another site's page would otherwise be able to
 * requeue tasks through a dashboard without a token.
 */
function checkPost(request: http.IncomingMessage): void {
  if (!isSameOrigin(request)) {
    throw new HttpError(403, "Requests from another origin are refused");
  }
  const type = request.headers["content-type"] ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new HttpError(415, "Send the body as application/json");
  }
}

async function readJson(request: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new HttpError(413, "Request body is larger than 64 KiB");
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (error) {
    throw new HttpError(
      400,
      `Cannot read the body as JSON: ${describeError(error)}`,
    );
  }
}

function send(response: http.ServerResponse, status: number, reply: Reply) {
  const common = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    // The page may carry the token in its address; never pass it on.
    "Referrer-Policy": "no-referrer",
  };
  if ("page" in reply) {
    const nonce = crypto.randomBytes(16).toString("base64");
    response.writeHead(status, {
      ...common,
      "Content-Type": "text/html; charset=utf-8",
      "Content-Security-Policy": contentSecurityPolicy(nonce),
      "X-Frame-Options": "DENY",
    });
    response.end(renderPage(nonce));
    return;
  }
  response.writeHead(status, {
    ...common,
    "Content-Type": "application/json; charset=utf-8",
  });
  response.end(JSON.stringify(reply.json));
}

/**
 * The page runs only its own inline script and style, talks only to this
 * server, and cannot be framed: database text that slipped into markup
 * still could not run.
 */
function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * refuse answers a failed request: its own status for a refusal, 400 for a
 * bad id, 409 when the tasks cannot be requeued, 500 (logged) otherwise.
 */
function refuse(
  response: http.ServerResponse,
  error: unknown,
  log: Logger,
): void {
  const [status, message, headers] = describeRefusal(error);
  if (status === 500) log.error("Dashboard request failed", { error });
  if (response.headersSent) {
    response.destroy();
    return;
  }
  response.writeHead(status, {
    ...headers,
    "Cache-Control": "no-store",
    "Content-Type": "application/json; charset=utf-8",
    "X-Content-Type-Options": "nosniff",
  });
  response.end(JSON.stringify({ error: message }));
}

function describeRefusal(
  error: unknown,
): [number, string, Readonly<Record<string, string>>] {
  if (error instanceof HttpError) {
    return [error.status, error.message, error.headers];
  }
  if (error instanceof RequeueRefusedError) return [409, error.message, {}];
  if (error instanceof RangeError) return [400, error.message, {}];
  return [500, "Cannot answer: the dashboard failed; see its log", {}];
}
