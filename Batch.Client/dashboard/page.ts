import { WAIT_PER_READ } from "../pollPacing";

/**
 * renderPage gives the dashboard's one page: markup, style and script
 * inline, nothing loaded from elsewhere, no build step. `nonce` marks the
 * inline script and style as the ones the Content-Security-Policy allows.
 *
 * The script polls the API every second, or less often when a poll takes
 * over a ninth of that, and draws with the DOM only: every text from the
 * database goes through textContent or an attribute, never through
 * innerHTML, so a task's error cannot become markup.
 */
export function renderPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Batch queue</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
${BODY}
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}

const STYLE = `
:root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f6f7f9;
  --done: #12805c; --failed: #c0362c; --progress: #2f6fdf;
  --waiting: #b7791f; --pending: #475467; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg);
  background: var(--bg); }
header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px;
  background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 10px; }
main { padding: 18px 24px; display: grid; gap: 18px;
  grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 16px; min-width: 0; }
.wide { grid-column: 1 / -1; }
.muted { color: var(--muted); }
#connection.down { color: var(--failed); font-weight: 600; }
.counts { display: grid; gap: 10px;
  grid-template-columns: repeat(auto-fit, minmax(110px, 1fr)); }
.count { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.count .value { display: block; font-size: 24px; font-weight: 600;
  font-variant-numeric: tabular-nums; }
.count.pending .value { color: var(--pending); }
.count.inProgress .value { color: var(--progress); }
.count.waitingToRetry .value { color: var(--waiting); }
.count.done .value { color: var(--done); }
.count.failed .value { color: var(--failed); }
.facts { margin: 10px 0 0; display: flex; gap: 24px; flex-wrap: wrap; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
td.number, th.number { text-align: right; }
td.error { font-family: ui-monospace, monospace; font-size: 12px;
  word-break: break-word; color: var(--failed); }
.scroll { max-height: 320px; overflow: auto; }
button { font: inherit; padding: 3px 10px; border-radius: 5px; cursor: pointer;
  border: 1px solid #98a2b3; background: #fff; }
button:hover { background: #eef2f6; }
button:disabled { opacity: 0.5; cursor: default; }
.section-head { display: flex; justify-content: space-between;
  align-items: baseline; gap: 12px; }
#message { min-height: 1.4em; margin: 8px 0 0; }
#message.error { color: var(--failed); }
#chart { width: 100%; height: auto; display: block; }
#chart .grid { stroke: var(--line); }
#chart .axis { fill: var(--muted); font-size: 11px; }
#chart .series { fill: none; stroke-width: 1.5; }
#chart .total { fill: none; stroke: var(--fg); stroke-width: 2.5; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 6px;
  font-size: 12px; }
.swatch { display: inline-block; width: 12px; height: 3px; margin-right: 5px;
  vertical-align: middle; }
`;

const BODY = `
<header>
  <h1>Batch queue</h1>
  <span class="muted">as of <span id="generated-at" data-testid="generated-at">-</span></span>
  <span id="connection" data-testid="connection" class="muted">connecting</span>
</header>
<main>
  <section class="wide" aria-labelledby="counts-title">
    <h2 id="counts-title">Tasks</h2>
    <div class="counts">
      <div class="count pending"><span class="value" id="count-pending" data-testid="count-pending">-</span>pending (due)</div>
      <div class="count inProgress"><span class="value" id="count-inProgress" data-testid="count-inProgress">-</span>in progress</div>
      <div class="count waitingToRetry"><span class="value" id="count-waitingToRetry" data-testid="count-waitingToRetry">-</span>waiting to retry</div>
      <div class="count done"><span class="value" id="count-done" data-testid="count-done">-</span>done</div>
      <div class="count failed"><span class="value" id="count-failed" data-testid="count-failed">-</span>failed</div>
      <div class="count total"><span class="value" id="count-total" data-testid="count-total">-</span>in all</div>
    </div>
    <p class="facts">
      <span>Oldest due task waiting: <strong id="oldest-pending" data-testid="oldest-pending">-</strong></span>
      <span>Throughput, last minute: <strong id="throughput" data-testid="throughput">-</strong></span>
    </p>
  </section>
  <section class="wide" aria-labelledby="chart-title">
    <h2 id="chart-title">Tasks ended per second, last 10 minutes</h2>
    <svg id="chart" data-testid="throughput-chart" viewBox="0 0 900 240"
      role="img" aria-label="Throughput per runner"></svg>
    <div id="legend" class="legend" data-testid="chart-legend"></div>
  </section>
  <section aria-labelledby="runners-title">
    <h2 id="runners-title">Live runners <span id="runner-count" class="muted" data-testid="runner-count"></span></h2>
    <div class="scroll">
      <table data-testid="runners-table">
        <thead><tr><th>Runner</th><th>Host</th><th class="number">PID</th>
          <th class="number">In hand</th><th class="number">Done</th>
          <th class="number">Failed</th><th>Seen</th></tr></thead>
        <tbody id="runners"></tbody>
      </table>
    </div>
    <p id="no-runners" class="muted" hidden>No live runners.</p>
  </section>
  <section aria-labelledby="failures-title">
    <div class="section-head">
      <h2 id="failures-title">Latest failures</h2>
      <button id="requeue-all" data-testid="requeue-all" type="button">Requeue all</button>
    </div>
    <table data-testid="failures-table">
      <thead><tr><th>Task</th><th>Class</th><th>Stopped</th><th>Reason</th><th></th></tr></thead>
      <tbody id="failures"></tbody>
    </table>
    <p id="no-failures" class="muted" hidden>No failed tasks.</p>
    <p id="message" data-testid="message" role="status" aria-live="polite"></p>
  </section>
  <section class="wide" aria-labelledby="results-title">
    <h2 id="results-title">Vendor results <span id="result-count" class="muted" data-testid="result-count"></span></h2>
    <div class="scroll">
      <table data-testid="results-table">
        <thead><tr><th class="number">Vendor</th><th class="number">Total</th>
          <th class="number">Items</th><th>Runner</th></tr></thead>
        <tbody id="results"></tbody>
      </table>
    </div>
  </section>
</main>
`;

// Plain ES2020 without template literals, so that it sits in this string
// unescaped. It keeps one poll in flight at a time and redraws a table
// only when its data changed, so buttons stay put between polls.
const SCRIPT = `
"use strict";
(function () {
  var POLL_MS = 1000;
  var WAIT_PER_READ = ${WAIT_PER_READ};
  var COLORS = ["#2f6fdf", "#12805c", "#c0362c", "#b7791f", "#7a3fc4",
    "#0e8a9a", "#d1497b", "#5b6b00", "#8a5a44", "#3d5a80"];
  var SVG = "http://www.w3.org/2000/svg";
  var token = new URLSearchParams(location.search).get("token");
  var drawn = {};

  function byId(id) { return document.getElementById(id); }

  function api(path, init) {
    var options = init || {};
    var headers = Object.assign({}, options.headers);
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(path, Object.assign({}, options, { headers: headers }))
      .then(function (response) {
        return response.json().catch(function () { return null; })
          .then(function (body) {
            if (!response.ok) {
              throw new Error((body && body.error) || response.statusText);
            }
            return body;
          });
      });
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return "-";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    var minutes = Math.floor(ms / 60000);
    return minutes + " min " + Math.round((ms % 60000) / 1000) + " s";
  }

  function time(iso) {
    return iso ? new Date(iso).toLocaleTimeString() : "-";
  }

  /** changed tells whether a part's data differs from what it shows. */
  function changed(part, data) {
    var text = JSON.stringify(data);
    if (drawn[part] === text) return false;
    drawn[part] = text;
    return true;
  }

  function renderCounts(status) {
    ["pending", "inProgress", "waitingToRetry", "done", "failed", "total"]
      .forEach(function (name) {
        byId("count-" + name).textContent = String(status.counts[name]);
      });
    byId("oldest-pending").textContent = duration(status.oldestPendingAgeMs);
    byId("throughput").textContent =
      status.throughputLastMinute.toFixed(2) + " tasks/s";
    byId("generated-at").textContent = time(status.generatedAt);
  }

  function renderRunners(status) {
    var now = new Date(status.generatedAt).getTime();
    var rows = status.runners.map(function (runner) {
      var row = el("tr");
      row.setAttribute("data-testid", "runner-row");
      row.setAttribute("data-runner-id", runner.runnerId);
      row.append(el("td", runner.runnerId), el("td", runner.host),
        el("td", runner.pid, "number"), el("td", runner.tasksInHand, "number"),
        el("td", runner.tasksDone, "number"),
        el("td", runner.tasksFailed, "number"),
        el("td", duration(Math.max(0,
          now - new Date(runner.lastSeenAt).getTime())) + " ago"));
      return row;
    });
    byId("runners").replaceChildren.apply(byId("runners"), rows);
    byId("runner-count").textContent = "(" + rows.length + ")";
    byId("no-runners").hidden = rows.length > 0;
  }

  function renderFailures(failures) {
    if (!changed("failures", failures)) return;
    var rows = failures.map(function (failure) {
      var row = el("tr");
      row.setAttribute("data-testid", "failure-row");
      row.setAttribute("data-task-id", failure.id);
      var button = el("button", "Requeue");
      button.type = "button";
      button.setAttribute("data-testid", "requeue-button");
      button.setAttribute("data-task-id", failure.id);
      button.addEventListener("click", function () {
        requeue({ ids: [failure.id] }, button);
      });
      var action = el("td");
      action.append(button);
      row.append(el("td", "#" + failure.id), el("td", failure.className),
        el("td", time(failure.stoppedAt)),
        el("td", failure.error || "-", "error"), action);
      return row;
    });
    byId("failures").replaceChildren.apply(byId("failures"), rows);
    byId("no-failures").hidden = rows.length > 0;
    byId("requeue-all").disabled = rows.length === 0;
  }

  function renderResults(body) {
    if (!changed("results", body)) return;
    var rows = body.results.map(function (result) {
      var row = el("tr");
      row.setAttribute("data-testid", "result-row");
      row.append(el("td", result.vendorId, "number"),
        el("td", result.total, "number"), el("td", result.items, "number"),
        el("td", result.runnerId));
      return row;
    });
    byId("results").replaceChildren.apply(byId("results"), rows);
    byId("result-count").textContent = body.count > rows.length
      ? "(" + rows.length + " of " + body.count + ")"
      : "(" + body.count + ")";
  }

  function svg(tag, attributes, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attributes).forEach(function (name) {
      node.setAttribute(name, String(attributes[name]));
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderChart(throughput) {
    if (!changed("chart", throughput)) return;
    var chart = byId("chart");
    var width = 900, height = 240, left = 40, right = 10, top = 10, bottom = 24;
    var seconds = throughput.bucketMs / 1000;
    var perSecond = function (count) { return count / seconds; };
    var peak = Math.max.apply(null, [1].concat(throughput.total.map(perSecond)));
    var n = throughput.total.length;
    var x = function (i) { return left + (i + 0.5) * (width - left - right) / n; };
    var y = function (v) { return top + (1 - v / peak) * (height - top - bottom); };
    var nodes = [];

    [0, 0.5, 1].forEach(function (f) {
      nodes.push(svg("line", { x1: left, x2: width - right, y1: y(peak * f),
        y2: y(peak * f), "class": "grid" }));
      nodes.push(svg("text", { x: left - 4, y: y(peak * f) + 4,
        "text-anchor": "end", "class": "axis" }, (peak * f).toFixed(1)));
    });
    [0, 0.5, 1].forEach(function (f) {
      var at = new Date(new Date(throughput.from).getTime() +
        f * n * throughput.bucketMs);
      nodes.push(svg("text", { x: left + f * (width - left - right),
        y: height - 6, "class": "axis",
        "text-anchor": f === 0 ? "start" : f === 1 ? "end" : "middle" },
        at.toLocaleTimeString()));
    });

    var line = function (counts) {
      return counts.map(function (count, i) {
        return x(i).toFixed(1) + "," + y(perSecond(count)).toFixed(1);
      }).join(" ");
    };
    var legend = [];
    throughput.runners.forEach(function (runner, index) {
      var color = COLORS[index % COLORS.length];
      var path = svg("polyline", { points: line(runner.counts),
        "class": "series", stroke: color });
      path.setAttribute("data-runner-id", runner.runnerId);
      nodes.push(path);
      legend.push(legendItem(runner.runnerId, color));
    });
    nodes.push(svg("polyline", { points: line(throughput.total),
      "class": "total", "data-testid": "chart-total" }));
    legend.push(legendItem("all runners", "#1d2330"));

    chart.replaceChildren.apply(chart, nodes);
    byId("legend").replaceChildren.apply(byId("legend"), legend);
  }

  function legendItem(label, color) {
    var item = el("span");
    var swatch = el("span", null, "swatch");
    swatch.style.background = color;
    item.append(swatch, document.createTextNode(label));
    return item;
  }

  function say(text, isError) {
    var message = byId("message");
    message.textContent = text;
    message.className = isError ? "error" : "";
  }

  function requeue(selection, button) {
    button.disabled = true;
    api("/api/requeue", { method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(selection) })
      .then(function (body) {
        say(body.requeued.length === 0 ? "No failed tasks to requeue."
          : "Requeued " + body.requeued.map(function (id) { return "#" + id; })
            .join(", ") + ".", false);
      }, function (error) { say(error.message, true); })
      .then(function () { button.disabled = false; });
  }

  // Each poll reads the whole task table; over a long queue, wait longer
  // than POLL_MS, as npm run status -- --watch does.
  function poll() {
    var started = Date.now();
    Promise.all([api("/api/status"), api("/api/throughput"),
      api("/api/results")])
      .then(function (bodies) {
        renderCounts(bodies[0]);
        renderRunners(bodies[0]);
        renderFailures(bodies[0].recentFailures);
        renderChart(bodies[1]);
        renderResults(bodies[2]);
        byId("connection").textContent = "live";
        byId("connection").className = "muted";
      }, function (error) {
        byId("connection").textContent = "not updating: " + error.message;
        byId("connection").className = "down";
      })
      .then(function () {
        var tookMs = Date.now() - started;
        setTimeout(poll, Math.max(POLL_MS, WAIT_PER_READ * tookMs));
      });
  }

  byId("requeue-all").addEventListener("click", function () {
    requeue({ all: true }, byId("requeue-all"));
  });
  poll();
})();
`;
