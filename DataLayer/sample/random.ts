/** Random gives numbers in [0, 1), the same sequence for the same seed. */
export type Random = () => number;

/**
 * createRandom returns mulberry32, a small 32-bit generator: statistical
 * quality far beyond what sample data needs, and the same sequence on
 * every platform, which Math.random cannot promise. `stream` separates
 * sequences drawn from one seed, so that adding draws to one part of the
 * data does not shift the values of another.
 */
export function createRandom(seed: number, stream = 0): Random {
  // Fold a seed wider than 32 bits, then mix in the stream, so that
  // nearby seeds and streams start far apart.
  const high = Math.floor(seed / 2 ** 32);
  let state =
    (seed ^ Math.imul(high, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>>
    0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** randomInt gives an integer from `min` to `max`, both included. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** pick gives one element of a non-empty list, each equally likely. */
export function pick<T>(random: Random, list: ArrayLike<T>): T {
  return list[Math.floor(random() * list.length)];
}
