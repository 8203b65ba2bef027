/**
 * The `masking` section every modality declares, with one name per concept so that the same
 * option means the same thing in vision, speech, text and a generated modality:
 *
 * - `masking.ratio`: the fraction of the time-steps (patches, frames, tokens) masked; with
 *   `objective.version` 2 exactly that fraction in every row.
 * - `masking.startProb`, `masking.spanLength`: span masking (wav2vec 2.0, data2vec speech): each
 *   time-step starts a masked span of `spanLength` steps with probability `startProb` (the
 *   paper's p; fairseq's mask_prob is p x spanLength).
 *
 * Modality-specific options (block shapes, BERT's replacement split, fine-tuning masks) sit next
 * to these in the same section. Old names are in config/renamed.ts.
 */
import { int, opt, type OptionSpec } from './schema.js';

/** `masking.ratio` of a modality whose mask has a target fraction (vision's blocks, text's tokens). `note` says what it masks. */
export function maskRatio(def: number, note: string): OptionSpec<number> {
  return opt(def, `fraction of the time-steps masked: ${note}`, { gt: 0, lt: 1 });
}

/**
 * The span-masking options: `startProb`, `spanLength` and `ratio` (objective.version 2's exact
 * fraction). `ratioZero` says what `ratio` 0 means; `ratioNote` adds the modality's paper values.
 */
export function spanMasking(d: { startProb: number; spanLength: number; ratio?: number }, o: { ratioZero: string; ratioNote?: string }) {
  return {
    startProb: opt(d.startProb, "probability that a time-step starts a masked span (the paper's p; fairseq's mask_prob = p x spanLength)", { min: 0, lt: 1 }),
    spanLength: int(d.spanLength, 'time-steps per masked span', { min: 1 }),
    ratio: opt(
      d.ratio ?? 0,
      `fraction of the time-steps masked, for objective.version 2: exactly this fraction in every row, filling or trimming the spans at random (0 = ${o.ratioZero})${o.ratioNote ? `; ${o.ratioNote}` : ''}`,
      { min: 0, lt: 1 },
    ),
  };
}
