import * as crypto from "node:crypto";
import type { IncomingMessage } from "node:http";
import * as net from "node:net";

/** The address the dashboard listens on unless told otherwise. */
export const DEFAULT_DASHBOARD_HOST = "127.0.0.1";

/**
 * isLoopbackHost tells whether a host name or address reaches only this
 * machine: "localhost", 127.0.0.0/8 or ::1 (also as ::ffff:127.x.y.z).
 * Anything else, "0.0.0.0" and "::" included, is reachable from elsewhere.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (bare === "localhost") return true;
  if (net.isIPv4(bare)) return bare.startsWith("127.");
  if (!net.isIPv6(bare)) return false;
  if (bare === "::1" || bare === "0:0:0:0:0:0:0:1") return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  return mapped !== null && mapped[1].startsWith("127.");
}

/**
 * checkDashboardAccess refuses, before anything listens, a dashboard
 * reachable from other machines without a token: it can requeue tasks.
 * Returns the token, or undefined for a loopback dashboard without one.
 *
 * @throws {RangeError} when the host is not a loopback address and no
 *   token is given, or the token is empty or holds whitespace.
 */
export function checkDashboardAccess(
  host: string,
  token: string | undefined,
): string | undefined {
  if (token !== undefined && !/^\S+$/.test(token)) {
    throw new RangeError(
      "Cannot start dashboard: the token must be non-empty, without spaces",
    );
  }
  if (token === undefined && !isLoopbackHost(host)) {
    throw new RangeError(
      `Cannot start dashboard on ${host}: a host other than a loopback ` +
        "address needs --token or DASHBOARD_TOKEN",
    );
  }
  return token;
}

/**
 * hasToken tells whether a request carries the token, in an
 * `Authorization: Bearer` header or, when `allowQuery` is set (the page
 * only, so that a link can open it), as `?token=`. The comparison takes
 * the same time whatever the request sent.
 */
export function hasToken(
  request: IncomingMessage,
  url: URL,
  token: string,
  allowQuery: boolean,
): boolean {
  const header = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? "");
  const offered =
    header?.[1] ?? (allowQuery ? url.searchParams.get("token") : null);
  return offered !== null && sameSecret(offered, token);
}

/**
 * isLoopbackRequest tells whether the Host header names this machine. A
 * dashboard without a token checks it, so that a web page whose name an
 * attacker rebinds to 127.0.0.1 cannot read it from a user's browser.
 */
export function isLoopbackRequest(request: IncomingMessage): boolean {
  const host = request.headers.host;
  if (host === undefined) return false;
  const name = /^(\[[^\]]*\]|[^:]*)(:\d+)?$/.exec(host)?.[1];
  return name !== undefined && isLoopbackHost(name);
}

/**
 * isSameOrigin tells whether a request's Origin, when it sends one, is the
 * dashboard itself: another site's page may not post to it.
 */
export function isSameOrigin(request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  return origin === `http://${request.headers.host ?? ""}`;
}

function sameSecret(offered: string, token: string): boolean {
  const digest = (text: string) =>
    crypto.createHash("sha256").update(text).digest();
  return crypto.timingSafeEqual(digest(offered), digest(token));
}
