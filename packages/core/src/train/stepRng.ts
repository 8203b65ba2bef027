import { Rng } from '../util/rng.js';

/**
 * Counter-based randomness: micro-batch `index` of a run with `seed` always
 * gets the same stream, so a resumed run sees exactly the data, masks and
 * dropout of an uninterrupted one without replaying anything.
 */
export function stepRng(seed: number, index: number): Rng {
  // Two rounds of integer hashing decorrelate neighbouring (seed, index) pairs.
  let h = Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) ^ index;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ Math.imul(index, 0x9e3779b1);
  return new Rng((h ^ (h >>> 16)) >>> 0);
}
