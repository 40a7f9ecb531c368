import { createRandom, pick, Random, randomInt } from "./random";
import type { OrderBatch, SampleData, SampleRow } from "./sampleData";

/**
 * REAL_COUNTS are the cardinalities of AdventureWorks' purchasing data,
 * which the generator copies at scale 1.
 */
export const REAL_COUNTS = {
  vendors: 104,
  vendorsWithOrders: 86,
  headers: 4012,
  details: 8845,
} as const;

/** MAX_SCALE bounds `scale`: about 8.8 million detail rows. */
export const MAX_SCALE = 1000;

/** GeneratedSampleOptions choose a synthetic data set. */
export interface GeneratedSampleOptions {
  /** Any safe integer; the same seed gives the same rows. */
  readonly seed: number;
  /** Multiplies every count, which is then rounded; above 0, at most 1000. */
  readonly scale: number;
}

/** SampleSizes are the row counts of one generated data set. */
export interface SampleSizes {
  readonly vendors: number;
  readonly vendorsWithOrders: number;
  readonly headers: number;
  readonly details: number;
}

/**
 * validateGeneratedOptions checks seed and scale, before any work.
 *
 * @throws {RangeError} for a seed that is not a safe integer, or a scale
 *   that is not a finite number above 0 and at most MAX_SCALE.
 */
export function validateGeneratedOptions(
  options: GeneratedSampleOptions,
): void {
  const { seed, scale } = options;
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(
      `Cannot generate sample data: seed must be an integer, got ${seed}`,
    );
  }
  if (!Number.isFinite(scale) || scale <= 0 || scale > MAX_SCALE) {
    throw new RangeError(
      "Cannot generate sample data: scale must be a number above 0 and " +
        `at most ${MAX_SCALE}, got ${scale}`,
    );
  }
}

/**
 * sampleSizes multiplies REAL_COUNTS by `scale` and rounds, keeping at
 * least one of each and one line per order, so that a tiny scale still
 * gives a usable data set.
 */
export function sampleSizes(scale: number): SampleSizes {
  const scaled = (count: number) => Math.max(1, Math.round(count * scale));
  const vendors = scaled(REAL_COUNTS.vendors);
  const headers = scaled(REAL_COUNTS.headers);
  return {
    vendors,
    vendorsWithOrders: Math.min(vendors, scaled(REAL_COUNTS.vendorsWithOrders)),
    headers,
    details: Math.max(headers, scaled(REAL_COUNTS.details)),
  };
}

/**
 * generateSample describes a synthetic purchasing data set shaped like
 * AdventureWorks: sizes from sampleSizes, some vendors without orders,
 * every order with at least one line and a subtotal that is the exact sum
 * of its lines' orderqty × unitprice, tax 8% and freight 2.5% of it. Rows
 * are made as the loader asks for them, in batches, so memory stays small
 * at any scale.
 *
 * @throws {RangeError} for bad options, as validateGeneratedOptions.
 */
export function generateSample(options: GeneratedSampleOptions): SampleData {
  validateGeneratedOptions(options);
  const generator = new SampleGenerator(options.seed, options.scale);
  return {
    description: `generated data, seed ${options.seed}, scale ${options.scale}`,
    vendors: () => generator.vendorChunks(),
    orders: () => generator.orderBatches(),
  };
}

/** Rows per yielded chunk of vendors, and orders per batch. */
const CHUNK_SIZE = 10_000;
const ORDER_BATCH_SIZE = 5_000;

/** Separate random streams, so each part of the data stands alone. */
const Stream = { OrderedVendors: 1, LineCounts: 2, Vendors: 3, Orders: 4 };

const FIRST_VENDOR_ID = 1492;
const FIRST_ORDER_DAY = Date.UTC(2011, 3, 16);
/** Days from the first order date, 2011-04-16, to the last, 2014-09-22. */
const ORDER_DAYS = 1255;
const DAY_MS = 86_400_000;
/** Real header counts per status 1 to 4, used as weights. */
const STATUS_WEIGHTS = [225, 12, 86, 3689];
const QUANTITIES = [3, 3, 3, 60, 60, 120, 550, 550];

const NAME_STARTS = [
  "Advanced",
  "Allenson",
  "American",
  "Australia",
  "Capital",
  "Chicago",
  "Compete",
  "Continental",
  "Custom",
  "Electronic",
  "Green Lake",
  "Integrated",
  "Litware",
  "Midwest",
  "Morgan",
  "Mountain",
  "Premier",
  "Proseware",
  "Reliance",
  "Superior",
  "Trikes",
  "Vision",
  "Wide World",
];
const NAME_ENDS = [
  "Bike Retailer",
  "Bicycles",
  "Bike Works",
  "Components",
  "Cycles",
  "Distributors",
  "Fitness",
  "Frames",
  "Sport",
  "Sporting Goods",
  "Supply",
  "Wheels",
];
const NAME_SUFFIXES = ["", "", ", Inc.", " Inc.", " Corp.", " Company"];

/** SampleGenerator holds what every batch needs; rows come lazily. */
class SampleGenerator {
  private readonly sizes: SampleSizes;
  /** Ids of the vendors that get orders, in a random order. */
  private readonly orderedVendorIds: Int32Array;
  /** Lines of each order, indexed by purchaseorderid - 1. */
  private readonly lineCounts: Uint16Array;
  private readonly dates = new Map<number, string>();

  constructor(
    private readonly seed: number,
    scale: number,
  ) {
    this.sizes = sampleSizes(scale);
    this.orderedVendorIds = this.chooseOrderedVendors();
    this.lineCounts = this.spreadLines();
  }

  *vendorChunks(): Generator<SampleRow[]> {
    const random = createRandom(this.seed, Stream.Vendors);
    for (let start = 0; start < this.sizes.vendors; start += CHUNK_SIZE) {
      const end = Math.min(this.sizes.vendors, start + CHUNK_SIZE);
      const rows: SampleRow[] = [];
      for (let index = start; index < end; index++) {
        rows.push(this.vendorRow(random, index));
      }
      yield rows;
    }
  }

  *orderBatches(): Generator<OrderBatch> {
    const random = createRandom(this.seed, Stream.Orders);
    let nextDetailId = 1;
    for (let start = 0; start < this.sizes.headers; start += ORDER_BATCH_SIZE) {
      const end = Math.min(this.sizes.headers, start + ORDER_BATCH_SIZE);
      const headers: SampleRow[] = [];
      const details: SampleRow[] = [];
      for (let index = start; index < end; index++) {
        headers.push(this.order(random, index, nextDetailId, details));
        nextDetailId += this.lineCounts[index];
      }
      yield { headers, details };
    }
  }

  /**
   * chooseOrderedVendors shuffles the vendor ids and keeps the first
   * vendorsWithOrders; the others never get an order, as 18 of the real
   * 104 vendors do not.
   */
  private chooseOrderedVendors(): Int32Array {
    const random = createRandom(this.seed, Stream.OrderedVendors);
    const ids = new Int32Array(this.sizes.vendors);
    for (let index = 0; index < ids.length; index++) {
      ids[index] = vendorId(index);
    }
    for (let index = ids.length - 1; index > 0; index--) {
      const other = randomInt(random, 0, index);
      [ids[index], ids[other]] = [ids[other], ids[index]];
    }
    return ids.slice(0, this.sizes.vendorsWithOrders);
  }

  /**
   * spreadLines gives every order one line, then hands out the remaining
   * lines one at a time to random orders, which hits the detail count
   * exactly. Two bytes per order is small even at the largest scale.
   */
  private spreadLines(): Uint16Array {
    const random = createRandom(this.seed, Stream.LineCounts);
    const counts = new Uint16Array(this.sizes.headers).fill(1);
    for (let left = this.sizes.details - this.sizes.headers; left > 0; left--) {
      counts[Math.floor(random() * counts.length)]++;
    }
    return counts;
  }

  private vendorRow(random: Random, index: number): SampleRow {
    const name =
      `${pick(random, NAME_STARTS)} ${pick(random, NAME_ENDS)}` +
      pick(random, NAME_SUFFIXES);
    const account =
      name
        .replace(/[^A-Za-z]/g, "")
        .slice(0, 8)
        .toUpperCase() + String(index + 1).padStart(4, "0");
    const url =
      random() < 0.06 ? `www.${name.split(" ")[0].toLowerCase()}.com/` : null;
    return [
      String(vendorId(index)),
      account,
      name,
      String(pick(random, [1, 1, 1, 1, 2, 2, 3, 4, 5])),
      random() < 0.85 ? "1" : "0",
      random() < 0.9 ? "1" : "0",
      url,
      this.date(randomInt(random, 9, 420)),
    ];
  }

  /**
   * order appends the lines of order `index` to `details` and returns its
   * header. Order dates rise with the id, as in the real data.
   */
  private order(
    random: Random,
    index: number,
    firstDetailId: number,
    details: SampleRow[],
  ): SampleRow {
    const orderId = index + 1;
    const day = Math.floor((index * ORDER_DAYS) / this.sizes.headers);
    const header = {
      revision: randomInt(random, 1, 9),
      status: weightedIndex(random, STATUS_WEIGHTS) + 1,
      employeeId: randomInt(random, 250, 261),
      vendorId: this.vendorFor(random, index),
      shipMethodId: randomInt(random, 1, 5),
    };

    let subtotal = 0;
    for (let line = 0; line < this.lineCounts[index]; line++) {
      const detail = this.line(random, orderId, firstDetailId + line, day);
      details.push(detail.row);
      subtotal += detail.amount;
    }

    // Integer arithmetic in units of 0.0001 keeps every amount exact;
    // adding half the divisor before flooring rounds half up.
    return [
      String(orderId),
      String(header.revision),
      String(header.status),
      String(header.employeeId),
      String(header.vendorId),
      String(header.shipMethodId),
      this.date(day),
      this.date(day + 9),
      formatMoney(subtotal),
      formatMoney(Math.floor((subtotal * 8 + 50) / 100)),
      formatMoney(Math.floor((subtotal * 25 + 500) / 1000)),
      this.date(day + 9),
    ];
  }

  /** vendorFor gives each ordering vendor one order first, then any. */
  private vendorFor(random: Random, index: number): number {
    const ids = this.orderedVendorIds;
    return index < ids.length ? ids[index] : pick(random, ids);
  }

  /** line makes one detail row and its amount in units of 0.0001. */
  private line(
    random: Random,
    orderId: number,
    detailId: number,
    day: number,
  ): { row: SampleRow; amount: number } {
    const quantity = pick(random, QUANTITIES);
    const product = randomInt(random, 1, 999);
    const unitPrice = randomInt(random, 10_000, 800_000);
    const received = random() < 0.9 ? quantity : randomInt(random, 0, quantity);
    const rejected = random() < 0.95 ? 0 : randomInt(random, 0, received);
    const row = [
      String(orderId),
      String(detailId),
      this.date(day + 14),
      String(quantity),
      String(product),
      formatMoney(unitPrice),
      `${received}.00`,
      `${rejected}.00`,
      this.date(day + 7),
    ];
    return { row, amount: quantity * unitPrice };
  }

  /** date writes a day after 2011-04-16 as a timestamp, cached. */
  private date(day: number): string {
    let text = this.dates.get(day);
    if (text === undefined) {
      const iso = new Date(FIRST_ORDER_DAY + day * DAY_MS).toISOString();
      text = `${iso.slice(0, 10)} 00:00:00`;
      this.dates.set(day, text);
    }
    return text;
  }
}

function vendorId(index: number): number {
  // The real ids run 1492, 1494, ... in steps of two.
  return FIRST_VENDOR_ID + 2 * index;
}

function weightedIndex(random: Random, weights: readonly number[]): number {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  let target = random() * total;
  for (let index = 0; index < weights.length; index++) {
    target -= weights[index];
    if (target < 0) return index;
  }
  return weights.length - 1;
}

/** formatMoney writes units of 0.0001 with exactly 4 decimals. */
function formatMoney(units: number): string {
  const fraction = String(units % 10_000).padStart(4, "0");
  return `${Math.floor(units / 10_000)}.${fraction}`;
}
