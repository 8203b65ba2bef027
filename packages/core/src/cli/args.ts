/** Command-line parsing: `d2v <command> [--key value | --key=value | --flag] ...`. */
import { ConfigError } from '../errors.js';

/** Options that steer the command rather than set config keys. */
export const META_OPTIONS: Record<string, string> = {
  modality: 'modality name (vision, speech, text) or path of a plugin package/file',
  preset: "config preset of the modality (e.g. tiny, paper-base)",
  config: 'JSON config file applied after the preset',
  task: 'eval: which evaluation to run (see d2v info --modality NAME)',
  'stop-after': 'stop after this many updates in this process (checkpoint kept; continue with --resume)',
  'no-summary': 'pretrain: skip the closing linear probe of the pretrained encoder vs its random init',
  help: 'list every option with its default and the paper value',
};

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
    if (eq >= 0) {
      value = key.slice(eq + 1);
      key = key.slice(0, eq);
    } else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) {
      value = argv[++i]!;
    } else {
      value = true;
    }
    if (key === 'h') key = 'help';
    if (key in META_OPTIONS) meta[key] = value;
    else overrides.set(ALIASES[key] ?? key, value === true ? 'true' : value);
  }
  return { command, meta, overrides };
}
