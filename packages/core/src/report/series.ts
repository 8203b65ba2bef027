/** Point-series helpers for charts: smoothing noisy curves and thinning long ones. */

export interface Point {
  x: number;
  y: number;
}

/**
 * Exponential moving average of the y values, bias-corrected so the curve
 * starts at the data instead of at 0. `smoothing` is the weight of the past.
 */
export function smoothEma(points: readonly Point[], smoothing: number): Point[] {
  let ema = 0;
  let weight = 0;
  return points.map(({ x, y }) => {
    ema = smoothing * ema + (1 - smoothing) * y;
    weight = smoothing * weight + (1 - smoothing);
    return { x, y: ema / weight };
  });
}

/**
 * A smoothing weight whose averaging horizon is about a tenth of the curve,
 * so short runs are not flattened and long runs still read as a trend.
 */
export function autoSmoothing(count: number): number {
  return Math.min(0.98, Math.max(0, 1 - 10 / count));
}

/**
 * At most `maxPoints` points: each bucket of consecutive points keeps its
 * minimum and maximum, so spikes (e.g. loss blow-ups) survive thinning.
 */
export function downsample(points: readonly Point[], maxPoints: number): Point[] {
  if (points.length <= maxPoints) return points.slice();
  const buckets = Math.max(1, Math.floor(maxPoints / 2));
  const size = points.length / buckets;
  const out: Point[] = [];
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor(b * size);
    const end = Math.floor((b + 1) * size);
    let lo = start;
    let hi = start;
    for (let i = start + 1; i < end; i++) {
      if (points[i].y < points[lo].y) lo = i;
      if (points[i].y > points[hi].y) hi = i;
    }
    out.push(points[Math.min(lo, hi)]);
    if (lo !== hi) out.push(points[Math.max(lo, hi)]);
  }
  return out;
}
