/**
 * Options that were renamed, in one table: a run folder's config.json written before a rename
 * still loads (its old keys are moved to the new ones when it is read, by --resume, d2v
 * eval/predict/embed/export and `--config RUN/config.json`), and an old key a user gives (a flag,
 * a hand-written --config file, a preset) is a ConfigError naming the new key.
 */
import { ConfigError } from '../errors.js';

/**
 * Old dotted key -> new dotted key. The masking options of every modality moved to one `masking`
 * section with one name per concept (docs/extending.md, "Masking"): `ratio` (fraction of the
 * time-steps masked), `startProb` and `spanLength` (span masking), `minSpans`, the fine-tuning
 * masks `finetuneStartProb`, `channelRatio`. A rename applies only where the old key is not an
 * option of the modality and the new key is, so a plugin that still declares an old name keeps it.
 */
export const RENAMED_KEYS: Readonly<Record<string, string>> = {
  // vision: the mask options left the `vision` section
  'vision.maskRatio': 'masking.ratio',
  'vision.minBlockPatches': 'masking.minBlockPatches',
  'vision.minAspect': 'masking.minAspect',
  'vision.inverseBlockSize': 'masking.inverseBlockSize',
  'vision.maskAdjust': 'masking.inverseBlockAdjust',
  // speech: the paper's p is a start probability; fractions are ratios
  'masking.maskProb': 'masking.startProb',
  'masking.minMasks': 'masking.minSpans',
  'masking.exactFraction': 'masking.ratio',
  'masking.finetuneMaskProb': 'masking.finetuneStartProb',
  'masking.channelMaskProb': 'masking.channelRatio',
  // text: the fraction of tokens masked
  'masking.prob': 'masking.ratio',
};

/** The new name of `key` when it was renamed and the new name is an option of `known`. */
export function renamedTo(key: string, known: ReadonlySet<string>): string | undefined {
  const to = RENAMED_KEYS[key];
  return to !== undefined && !known.has(key) && known.has(to) ? to : undefined;
}

/** The error for an old key given by a user: which option replaced it. */
export function renamedKeyError(key: string, to: string, source: string): ConfigError {
  return new ConfigError(`${source}: option '${key}' was renamed to '${to}'; use --${to}`, to);
}

/**
 * Moves the renamed keys of a stored config (dotted keys, as flattenTree gives them) to their new
 * names, in place. A key already holding a value under its new name is left for the caller to
 * report as unknown. Returns what was moved, `old -> new`, for the log.
 */
export function migrateRenamedKeys(flat: Map<string, unknown>, known: ReadonlySet<string>): string[] {
  const moved: string[] = [];
  for (const key of [...flat.keys()]) {
    const to = renamedTo(key, known);
    if (to === undefined || flat.has(to)) continue;
    flat.set(to, flat.get(key));
    flat.delete(key);
    moved.push(`${key} -> ${to}`);
  }
  return moved;
}
