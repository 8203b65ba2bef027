/**
 * Human-readable formatting for progress lines, logs and chart labels.
 * All helpers accept any number (NaN/Infinity included) and never throw, because
 * they run inside training loops where a formatting error must not kill a run.
 */

const UNKNOWN = '--';

/** A duration in seconds as `0.42s`, `4.2s`, `42s`, `3m05s`, `2h03m`, `1d02h`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return UNKNOWN;
  if (seconds < 0) return `-${formatDuration(-seconds)}`;
  if (seconds < 1) return `${seconds.toFixed(2)}s`;
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  // Round once to whole seconds so 59.6s becomes 1m00s, not 60s.
  const total = Math.round(seconds);
  if (total < 60) return `${total}s`;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (total < 3600) return `${Math.floor(total / 60)}m${pad(total % 60)}s`;
  const minutes = Math.round(total / 60);
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)}h${pad(minutes % 60)}m`;
  const hours = Math.round(minutes / 60);
  return `${Math.floor(hours / 24)}d${pad(hours % 24)}h`;
}

const SI_PREFIXES = ['', 'k', 'M', 'G', 'T'];

/** A rate such as `85.3 img/s`, `12.4k tok/s` or `0.52 img/s`. */
export function formatRate(perSecond: number, unit: string): string {
  if (!Number.isFinite(perSecond)) return `${UNKNOWN} ${unit}/s`;
  let value = Math.abs(perSecond);
  let prefix = 0;
  while (value >= 1000 && prefix < SI_PREFIXES.length - 1) {
    value /= 1000;
    prefix++;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  const sign = perSecond < 0 ? '-' : '';
  return `${sign}${value.toFixed(digits)}${SI_PREFIXES[prefix]} ${unit}/s`;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** A byte count in binary units: `512 B`, `1.5 KiB`, `23.4 MiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return `${UNKNOWN} B`;
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const sign = bytes < 0 ? '-' : '';
  const text = unit === 0 ? String(Math.round(value)) : value.toFixed(value >= 100 ? 0 : 1);
  return `${sign}${text} ${BYTE_UNITS[unit]}`;
}

/**
 * A metric value compactly: integers as is, tiny or huge magnitudes in
 * exponent form (learning rates like `3.00e-4`), otherwise 4 significant digits.
 */
export function formatMetric(value: number | string): string {
  if (typeof value === 'string') return value;
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Inf' : '-Inf';
  if (Number.isInteger(value) && Math.abs(value) < 1e6) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5)) return value.toExponential(2);
  return value.toPrecision(4);
}
