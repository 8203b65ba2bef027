/** Command-line parsing: `d2v <command> [--key value | --key=value | --flag] ...`. */
import { ConfigError } from '../errors.js';

/** Options that steer the command rather than set config keys. */
export const META_OPTIONS: Record<string, string> = {
  modality: 'modality name (vision, speech, text) or path of a plugin package/file',
  preset: "config preset of the modality (e.g. tiny, paper-base)",
  config: 'JSON config file applied after the preset',
  task: 'eval: which evaluation to run (see d2v info --modality NAME)',
  format: 'export: checkpoint format to write (hf = Hugging Face transformers; d2v export --help)',
  'stop-after': 'stop after this many updates in this process (checkpoint kept; continue with --resume)',
  'no-summary': 'pretrain: skip the closing linear probe of the pretrained encoder vs its random init',
  help: 'list every option with its default and the paper value',
  version: 'print the d2v version',
  verbose: 'on failure, print the stack trace too (or set D2V_DEBUG=1)',
};

/** Run options that are switches: they never take a value (`d2v --verbose pretrain` keeps `pretrain` as the command). */
export const META_FLAGS = new Set(['help', 'version', 'verbose', 'no-summary']);

/** Short spellings for the options people type most. */
export const ALIASES: Record<string, string> = {
  steps: 'train.steps',
  'batch-size': 'train.batchSize',
  lr: 'optim.lr',
  init: 'finetune.init',
};

export interface ParsedArgs {
  command: string | undefined;
  meta: Record<string, string | true>;
  /** Config keys and their raw values; a flag given without a value is `true` (only boolean options accept that). */
  overrides: Map<string, unknown>;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const meta: Record<string, string | true> = {};
  const overrides = new Map<string, unknown>();
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (!tok.startsWith('--')) {
      if (command === undefined) {
        command = tok;
        continue;
      }
      throw new ConfigError(`unexpected argument '${tok}' (options are written --key value)`);
    }
    let key = tok.slice(2);
    let value: string | true;
    const eq = key.indexOf('=');
    if (key === 'h') key = 'help';
    if (eq >= 0) {
      value = key.slice(eq + 1);
      key = key.slice(0, eq);
    } else if (!META_FLAGS.has(key) && i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) {
      value = argv[++i]!;
    } else {
      value = true;
    }
    if (key in META_OPTIONS) {
      if (value === true && !META_FLAGS.has(key)) throw new ConfigError(`--${key} needs a value (${META_OPTIONS[key]})`, key);
      meta[key] = value;
    } else overrides.set(ALIASES[key] ?? key, value);
  }
  return { command, meta, overrides };
}
