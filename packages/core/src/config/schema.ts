/**
 * Typed configuration: a schema of options (default, help, paper value), from
 * which defaults are built; presets, a JSON file and command-line flags are
 * applied on top in that order. Unknown keys and wrong types are errors that
 * name the key and where it came from.
 */
import { ConfigError } from '../errors.js';
import { renamedKeyError, renamedTo } from './renamed.js';

export type OptionValue = number | string | boolean | null | number[] | string[];

/** 'integer' refines number; 'path' refines string; 'json' accepts any JSON value. */
export type OptionType = 'number' | 'integer' | 'string' | 'path' | 'boolean' | 'number[]' | 'string[]' | 'json';

/** An option whose resolved value is a `T` (`opt()` and `int()` infer it: choices give a union of literals, nullable adds `null`). */
export interface OptionSpec<T = OptionValue> {
  readonly kind: 'option';
  readonly default: T;
  readonly help: string;
  readonly choices?: readonly string[];
  readonly type: OptionType;
  /** Allows null (e.g. "1/sqrt(C)" default of loss scale). */
  readonly nullable?: boolean;
  /** Bounds of a number (of every element of a number list): min/max inclusive, gt/lt exclusive. */
  readonly range?: Range;
}

export interface Range {
  readonly min?: number;
  readonly max?: number;
  readonly gt?: number;
  readonly lt?: number;
}

/**
 * Options and sections of options. Declare a schema `satisfies Schema` (not `: Schema`) so that
 * TypeScript keeps its shape: `ConfigOf<typeof schema>` is then the type of the resolved values.
 */
export interface Schema {
  readonly [key: string]: OptionSpec | Schema;
}

export type ConfigTree = { [key: string]: OptionValue | ConfigTree };

/**
 * The resolved values of a schema: every option becomes its value type, every section a nested
 * object. A key the schema does not declare is a type error where the config is used.
 */
export type ConfigOf<S> = { -readonly [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : ConfigOf<S[K]> };

/** Every part of a config optional, recursively (presets set only what they change). */
export type DeepPartial<C> = { [K in keyof C]?: C[K] extends OptionValue ? C[K] : DeepPartial<C[K]> };

type ValueOfType = { number: number; integer: number; string: string; path: string; boolean: boolean; 'number[]': number[]; 'string[]': string[]; json: OptionValue };
type Widen<D> = D extends number ? number : D extends string ? string : D extends boolean ? boolean : D extends readonly number[] ? number[] : D extends readonly string[] ? string[] : D extends null ? null : never;

function inferType(v: OptionValue): OptionType {
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (Array.isArray(v)) return typeof v[0] === 'string' ? 'string[]' : 'number[]';
  return 'string';
}

/** Declares an option with a fixed set of string values: its value type is the union of them. */
export function opt<const C extends readonly string[]>(def: C[number], help: string, extra: { choices: C; type?: 'string' }): OptionSpec<C[number]>;
/**
 * Declares an option. Its value type is the given `type`'s, else the default's (widened: a number
 * default gives `number`); `nullable` adds `null`.
 */
export function opt<D extends OptionValue, Ty extends OptionType = never, N extends boolean = false>(
  def: D,
  help: string,
  extra?: { type?: Ty; nullable?: N } & Range,
): OptionSpec<([Ty] extends [never] ? Widen<D> : Ty extends keyof ValueOfType ? ValueOfType[Ty] : never) | (N extends true ? null : never)>;
export function opt(def: OptionValue, help: string, extra: { choices?: readonly string[]; type?: OptionType; nullable?: boolean } & Range = {}): OptionSpec {
  const { min, max, gt, lt } = extra;
  const range = [min, max, gt, lt].some((b) => b !== undefined) ? { min, max, gt, lt } : undefined;
  const defaults = typeof def === 'number' ? [def] : Array.isArray(def) && typeof def[0] === 'number' ? (def as number[]) : [];
  if (range && defaults.some((x) => !inRange(x, range))) throw new Error(`option default ${JSON.stringify(def)} is outside its own range (${describeRange(range)})`);
  return { kind: 'option', default: def, help, type: extra.type ?? inferType(def), choices: extra.choices, nullable: extra.nullable ?? def === null, range };
}

/** An integer option (counts, sizes, steps), optionally bounded (e.g. `{ min: 1 }`). */
export function int(def: number, help: string, range: Range = {}): OptionSpec<number> {
  return opt(def, help, { type: 'integer', ...range });
}

/** The bounds as people write them: ">= 1", "in (0, 1)", "in [0, 1)". */
export function describeRange(r: Range): string {
  const lo = r.gt !== undefined ? { v: r.gt, open: true } : r.min !== undefined ? { v: r.min, open: false } : undefined;
  const hi = r.lt !== undefined ? { v: r.lt, open: true } : r.max !== undefined ? { v: r.max, open: false } : undefined;
  if (lo && hi) return `in ${lo.open ? '(' : '['}${lo.v}, ${hi.v}${hi.open ? ')' : ']'}`;
  if (lo) return `${lo.open ? '>' : '>='} ${lo.v}`;
  if (hi) return `${hi.open ? '<' : '<='} ${hi.v}`;
  return 'any number';
}

function inRange(x: number, r: Range): boolean {
  return (r.min === undefined || x >= r.min) && (r.max === undefined || x <= r.max) && (r.gt === undefined || x > r.gt) && (r.lt === undefined || x < r.lt);
}

export function isOption(x: OptionSpec | Schema): x is OptionSpec {
  return (x as OptionSpec).kind === 'option';
}

/** Flattens a schema to dotted keys. */
export function flattenSchema(schema: Schema, prefix = ''): Map<string, OptionSpec> {
  const out = new Map<string, OptionSpec>();
  for (const [k, v] of Object.entries(schema)) {
    if (isOption(v)) out.set(prefix + k, v);
    else for (const [kk, vv] of flattenSchema(v, `${prefix}${k}.`)) out.set(kk, vv);
  }
  return out;
}

/** Merges schemas; a key defined twice is a programming error. */
export function mergeSchemas(...schemas: Schema[]): Schema {
  const out: Record<string, OptionSpec | Schema> = {};
  for (const s of schemas) {
    for (const [k, v] of Object.entries(s)) {
      const prev = out[k];
      if (prev === undefined) out[k] = v;
      else if (!isOption(prev) && !isOption(v)) out[k] = mergeSchemas(prev, v);
      else throw new ConfigError(`config option '${k}' is defined twice`, k);
    }
  }
  return out;
}

export function defaultsOf(schema: Schema): ConfigTree {
  const out: ConfigTree = {};
  for (const [k, v] of Object.entries(schema)) out[k] = isOption(v) ? structuredClone(v.default) : defaultsOf(v);
  return out;
}

export function getPath(tree: ConfigTree, key: string): OptionValue | ConfigTree | undefined {
  let cur: OptionValue | ConfigTree | undefined = tree;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as ConfigTree)[part];
  }
  return cur;
}

function setPath(tree: ConfigTree, key: string, value: OptionValue): void {
  const parts = key.split('.');
  let cur = tree;
  for (const p of parts.slice(0, -1)) cur = cur[p] as ConfigTree;
  cur[parts[parts.length - 1]!] = value;
}

/** Flattens a nested override object (from JSON or a preset) to dotted keys. */
export function flattenTree(obj: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    out.set(prefix.slice(0, -1), obj);
    return out;
  }
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flattenTree(v, `${prefix}${k}.`, out);
    else out.set(prefix + k, v);
  }
  return out;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

export function suggestKey(key: string, keys: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of keys) {
    const d = Math.min(editDistance(key, k), editDistance(key, k.split('.').pop()!) + 1);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return bestD <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

/** Converts a raw value (string from the CLI, or JSON) to the option's type, or throws naming key and source. */
export function coerce<T>(key: string, spec: OptionSpec<T>, raw: unknown, source: string): T {
  // The value has just been checked against the spec, so it is the spec's value type.
  return checkedValue(key, spec, raw, source) as T;
}

function checkedValue(key: string, spec: OptionSpec<unknown>, raw: unknown, source: string): OptionValue {
  const bad = (why: string) => new ConfigError(`${source}: option ${key} ${why}`, key);
  // `true` without a string form is a flag given with no value (`--out` at the end of a command line).
  if (raw === true && spec.type !== 'boolean' && spec.type !== 'json') throw bad(`needs a value (--${key} VALUE)`);
  if (raw === null || raw === 'null') {
    if (spec.nullable) return null;
    throw bad('cannot be null');
  }
  switch (spec.type) {
    case 'number':
    case 'integer': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) throw bad(`expects a number, got ${JSON.stringify(raw)}`);
      if (spec.type === 'integer' && !Number.isInteger(n)) throw bad(`expects an integer, got ${JSON.stringify(raw)}`);
      if (spec.range && !inRange(n, spec.range)) throw bad(`must be ${describeRange(spec.range)}, got ${n}`);
      return n;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1' || raw === true) return true;
      if (raw === 'false' || raw === '0') return false;
      throw bad(`expects true or false, got ${JSON.stringify(raw)}`);
    }
    case 'number[]': {
      const arr = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : raw;
      if (!Array.isArray(arr)) throw bad(`expects a list of numbers, got ${JSON.stringify(raw)}`);
      const nums = arr.map((x) => (typeof x === 'number' ? x : Number(x)));
      if (nums.some((x) => !Number.isFinite(x))) throw bad(`expects a list of numbers, got ${JSON.stringify(raw)}`);
      const range = spec.range;
      const outside = range ? nums.find((x) => !inRange(x, range)) : undefined;
      if (range && outside !== undefined) throw bad(`values must be ${describeRange(range)}, got ${outside}`);
      return nums;
    }
    case 'string[]': {
      const arr = typeof raw === 'string' ? (raw === '' ? [] : raw.split(',').map((s) => s.trim())) : raw;
      if (!Array.isArray(arr) || arr.some((x) => typeof x !== 'string')) throw bad(`expects a list of strings, got ${JSON.stringify(raw)}`);
      return arr as string[];
    }
    case 'json':
      return raw as OptionValue;
    default: {
      if (typeof raw !== 'string') throw bad(`expects a string, got ${JSON.stringify(raw)}`);
      if (spec.choices && !spec.choices.includes(raw)) {
        const hint = suggestKey(raw, spec.choices);
        throw bad(`must be one of ${spec.choices.join(', ')}; got '${raw}'${hint ? ` (did you mean '${hint}'?)` : ''}`);
      }
      return raw;
    }
  }
}

/** Applies dotted-key overrides to a config, validating every key against the schema. */
export function applyOverrides<T extends ConfigTree>(config: T, schema: Schema, overrides: Map<string, unknown>, source: string): T {
  const flat = flattenSchema(schema);
  for (const [key, raw] of overrides) {
    const spec = flat.get(key);
    if (!spec) {
      const to = renamedTo(key, new Set(flat.keys()));
      if (to !== undefined) throw renamedKeyError(key, to, source);
      const hint = suggestKey(key, flat.keys());
      throw new ConfigError(`${source}: unknown option '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}; run with --help to list options`, key);
    }
    setPath(config, key, coerce(key, spec, raw, source));
  }
  return config;
}
