/** A Series is one line of the chart: a system and configuration. */
export interface Series {
  readonly label: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

/** ChartOptions name the chart and its axes. */
export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
}

const WIDTH = 1000;
const HEIGHT = 520;
const PLOT = { left: 80, top: 50, right: 600, bottom: 450 };
const COLOURS = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];
// Dashes tell apart lines that share a colour once there are more than ten.
const DASHES = ["", "6 3", "2 3"];

/**
 * lineChartSvg draws series as lines over a logarithmic x axis (process
 * counts such as 1, 4, 20 spread evenly) and a linear y axis from zero,
 * with a legend beside the plot. It returns the SVG document's text.
 */
export function lineChartSvg(
  series: readonly Series[],
  options: ChartOptions,
): string {
  const xs = [...new Set(series.flatMap((line) => line.points.map((p) => p.x)))]
    .filter((x) => x > 0)
    .sort((a, b) => a - b);
  const yMax = niceCeiling(
    Math.max(1, ...series.flatMap((l) => l.points.map((p) => p.y))),
  );
  const xScale = logScale(xs[0] ?? 1, xs[xs.length - 1] ?? 10);
  const yScale = (y: number) =>
    PLOT.bottom - (y / yMax) * (PLOT.bottom - PLOT.top);

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" ` +
      `viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="28" text-anchor="middle" font-size="16">${escape(options.title)}</text>`,
    ...yAxis(yMax, yScale, options.yLabel),
    ...xAxis(xs, xScale, options.xLabel),
    ...series.flatMap((line, index) => drawSeries(line, index, xScale, yScale)),
    ...legend(series),
    "</svg>",
  ];
  return `${parts.join("\n")}\n`;
}

function logScale(min: number, max: number): (x: number) => number {
  const low = Math.log(min);
  const span = Math.log(max) - low || 1;
  return (x) =>
    PLOT.left + ((Math.log(x) - low) / span) * (PLOT.right - PLOT.left);
}

/** niceCeiling rounds up to 1, 2 or 5 times a power of ten. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((factor) => factor * power >= value) ?? 10;
  return step * power;
}

function yAxis(
  yMax: number,
  yScale: (y: number) => number,
  label: string,
): string[] {
  const ticks = Array.from({ length: 6 }, (_, index) => (yMax * index) / 5);
  return [
    ...ticks.flatMap((tick) => [
      `<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${yScale(tick)}" y2="${yScale(tick)}" stroke="#e0e0e0"/>`,
      `<text x="${PLOT.left - 8}" y="${yScale(tick) + 4}" text-anchor="end">${tick.toLocaleString("en-US")}</text>`,
    ]),
    `<line x1="${PLOT.left}" x2="${PLOT.left}" y1="${PLOT.top}" y2="${PLOT.bottom}" stroke="black"/>`,
    `<text transform="translate(20 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(label)}</text>`,
  ];
}

function xAxis(
  xs: readonly number[],
  xScale: (x: number) => number,
  label: string,
): string[] {
  return [
    `<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${PLOT.bottom}" y2="${PLOT.bottom}" stroke="black"/>`,
    ...xs.flatMap((x) => [
      `<line x1="${xScale(x)}" x2="${xScale(x)}" y1="${PLOT.bottom}" y2="${PLOT.bottom + 5}" stroke="black"/>`,
      `<text x="${xScale(x)}" y="${PLOT.bottom + 20}" text-anchor="middle">${x}</text>`,
    ]),
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 45}" text-anchor="middle">${escape(label)}</text>`,
  ];
}

function drawSeries(
  line: Series,
  index: number,
  xScale: (x: number) => number,
  yScale: (y: number) => number,
): string[] {
  const colour = COLOURS[index % COLOURS.length];
  const dash = DASHES[Math.floor(index / COLOURS.length) % DASHES.length];
  const points = line.points
    .filter((p) => p.x > 0 && Number.isFinite(p.y))
    .sort((a, b) => a.x - b.x);
  const path = points.map(
    (p) => `${xScale(p.x).toFixed(1)},${yScale(p.y).toFixed(1)}`,
  );
  return [
    `<polyline fill="none" stroke="${colour}" stroke-width="2"` +
      `${dash ? ` stroke-dasharray="${dash}"` : ""} points="${path.join(" ")}"/>`,
    ...points.map(
      (p) =>
        `<circle cx="${xScale(p.x).toFixed(1)}" cy="${yScale(p.y).toFixed(1)}" r="3" fill="${colour}">` +
        `<title>${escape(line.label)}: ${Math.round(p.y)} jobs/s at ${p.x}</title></circle>`,
    ),
  ];
}

function legend(series: readonly Series[]): string[] {
  return series.flatMap((line, index) => {
    const y = PLOT.top + index * 20;
    const colour = COLOURS[index % COLOURS.length];
    const dash = DASHES[Math.floor(index / COLOURS.length) % DASHES.length];
    return [
      `<line x1="${PLOT.right + 20}" x2="${PLOT.right + 44}" y1="${y}" y2="${y}" stroke="${colour}" ` +
        `stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`,
      `<text x="${PLOT.right + 50}" y="${y + 4}">${escape(line.label)}</text>`,
    ];
  });
}

function escape(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;");
}
