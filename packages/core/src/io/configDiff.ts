/**
 * Key-by-key comparison of a stored config with the current one, so a resume
 * with different options fails with every differing key instead of silently
 * training a different model.
 */

const isPlainObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);

/** JSON with sorted object keys, so equal values compare equal whatever their key order. */
function canonical(v: unknown): string | undefined {
  if (Array.isArray(v)) return `[${v.map((x) => canonical(x) ?? 'null').join(',')}]`;
  if (isPlainObject(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

const show = (v: unknown) => (v === undefined ? 'absent' : canonical(v));

/**
 * Differing dotted keys, sorted, as "model.depth is 6 in the checkpoint but 4
 * in this run". A key in `ignore` also ignores everything under it.
 * `current` is compared as it would be stored (through JSON).
 */
export function diffConfig(stored: Record<string, unknown>, current: Record<string, unknown>, ignore: readonly string[] = []): string[] {
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (path && ignore.some((k) => path === k || path.startsWith(`${k}.`))) return;
    if (isPlainObject(a) && isPlainObject(b)) {
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
      for (const k of keys) walk(a[k], b[k], path ? `${path}.${k}` : k);
    } else if (canonical(a) !== canonical(b)) {
      out.push(`${path || '(whole config)'} is ${show(a)} in the checkpoint but ${show(b)} in this run`);
    }
  };
  walk(stored, JSON.parse(JSON.stringify(current)) as unknown, '');
  return out;
}
