/**
 * `@d2v/core/bench`: what benchmark and evidence scripts use, kept out of the training API:
 * step throughput and its FLOP count, the kernel profile of one update, the calibration of
 * update times for a time budget, and the command-line parsing of the scripts (scriptArgs).
 */
import { basename } from 'node:path';
import { ConfigError } from './errors.js';
import { suggestKey } from './config/schema.js';
import { EXIT } from './cli/failure.js';

export { benchPretrainStep, benchTable, transformerForwardFlops, pretrainFlops, matmulRate, calibrateUpdateSeconds } from './run/benchStep.js';
export type { StepBenchOptions, StepBenchResult } from './run/benchStep.js';
export { profilePretrainStep, profileTable } from './run/profileStep.js';
export type { StepProfile, StepProfileOptions, KernelShare } from './run/profileStep.js';

/** The options a script takes. */
export interface ScriptSpec<V extends Record<string, string | undefined>, S extends string, C extends string> {
  /** How to run the script and what its options mean: printed by --help. */
  usage: string;
  /** Options that take a value (`--name value` or `--name=value`), with their defaults (undefined: none). */
  values?: V;
  /** Options without a value: true when given. */
  switches?: readonly S[];
  /** Options that may repeat, each `--name key=value` (e.g. --set): collected into one record per option. */
  sets?: readonly C[];
}

export interface ScriptArgs<V extends Record<string, string | undefined>, S extends string, C extends string> {
  /** Each value option as given (the last time), else its default. */
  values: { [K in keyof V]: V[K] extends string ? string : string | undefined };
  switches: Record<S, boolean>;
  sets: Record<C, Record<string, string>>;
  /** True when --help (or -h) was given. */
  help: boolean;
  /** A value option as a number; a ConfigError naming the option when it is not one. */
  number(name: keyof V & string): number;
}

/**
 * Parses a script's command line by its spec. An unknown option, a value option without a value,
 * a set without key=value or a stray argument is a ConfigError naming it (with the closest known
 * option when it looks misspelt, and the script's options).
 */
export function parseScriptArgs<const V extends Record<string, string | undefined> = {}, const S extends string = never, const C extends string = never>(
  argv: readonly string[],
  spec: ScriptSpec<V, S, C>,
): ScriptArgs<V, S, C> {
  const defaults: Record<string, string | undefined> = { ...spec.values };
  const switchNames: readonly string[] = spec.switches ?? [];
  const setNames: readonly string[] = spec.sets ?? [];
  const known = [...Object.keys(defaults), ...switchNames, ...setNames, 'help'];
  const values = { ...defaults };
  const switches = Object.fromEntries(switchNames.map((s) => [s, false]));
  const sets: Record<string, Record<string, string>> = Object.fromEntries(setNames.map((s) => [s, {}]));
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '-h' || token === '--help') {
      help = true;
      continue;
    }
    if (!token.startsWith('--')) throw new ConfigError(`unexpected argument '${token}' (options are written --name value)`);
    const eq = token.indexOf('=');
    const name = token.slice(2, eq >= 0 ? eq : undefined);
    const inline = eq >= 0 ? token.slice(eq + 1) : undefined;
    const valueOf = () => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`--${name} needs a value`, name);
      i++;
      return next;
    };
    if (name in defaults) values[name] = valueOf();
    else if (switchNames.includes(name)) {
      if (inline !== undefined) throw new ConfigError(`--${name} is a switch and takes no value (got --${name}=${inline})`, name);
      switches[name] = true;
    } else if (setNames.includes(name)) {
      const pair = valueOf();
      const at = pair.indexOf('=');
      if (at <= 0) throw new ConfigError(`--${name} expects key=value (got '${pair}')`, name);
      sets[name]![pair.slice(0, at)] = pair.slice(at + 1);
    } else {
      const hint = suggestKey(name, known);
      throw new ConfigError(`unknown option --${name}${hint ? ` (did you mean --${hint}?)` : ''}; options: ${known.map((k) => `--${k}`).join(', ')}`, name);
    }
  }
  return {
    values: values as ScriptArgs<V, S, C>['values'],
    switches: switches as Record<S, boolean>,
    sets: sets as Record<C, Record<string, string>>,
    help,
    number(name) {
      const raw = values[name];
      const n = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(n)) throw new ConfigError(`--${name} expects a number, got ${raw === undefined ? 'nothing' : `'${raw}'`}`, name);
      return n;
    },
  };
}

/** The --help text of a spec: its usage, then every option with its default. */
export function scriptHelp(spec: ScriptSpec<Record<string, string | undefined>, string, string>): string {
  const lines = [spec.usage.trim(), '', 'options:'];
  for (const [name, d] of Object.entries(spec.values ?? {})) lines.push(`  --${name} VALUE${d === undefined || d === '' ? '' : ` (default ${d})`}`);
  for (const name of spec.switches ?? []) lines.push(`  --${name}`);
  for (const name of spec.sets ?? []) lines.push(`  --${name} key=value (repeatable)`);
  return lines.join('\n');
}

/**
 * parseScriptArgs for a script's own command line (process.argv after the script): --help prints
 * the usage and the options and exits 0; a bad command line prints one line naming the problem and
 * exits with the d2v command's usage code (2).
 */
export function scriptArgs<const V extends Record<string, string | undefined> = {}, const S extends string = never, const C extends string = never>(
  spec: ScriptSpec<V, S, C>,
  argv: readonly string[] = process.argv.slice(2),
): ScriptArgs<V, S, C> {
  let args: ScriptArgs<V, S, C>;
  try {
    args = parseScriptArgs(argv, spec);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`${basename(process.argv[1] ?? 'script')}: ${err.message}`);
    process.exit(EXIT.usage);
  }
  if (args.help) {
    console.log(scriptHelp(spec));
    process.exit(EXIT.ok);
  }
  return args;
}
