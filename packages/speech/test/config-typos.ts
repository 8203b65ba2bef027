/**
 * Misspelt and mistyped options must not compile: the package's typecheck (`tsc -p tsconfig.json`,
 * part of `npm test`) compiles this file, and each `@ts-expect-error` below fails it if the line
 * after it compiles. Nothing here runs. packaging/test/config-types.test.ts checks that the
 * typecheck includes this file.
 */
import type { SpeechConfig, SpeechPreset } from '../src/index.js';

export function misspelt(c: SpeechConfig): unknown[] {
  return [
    // @ts-expect-error speech.sampleRate, misspelt
    c.speech.sampleRat,
    // @ts-expect-error the span-start probability is masking.startProb now
    c.masking.maskProb,
    // @ts-expect-error finetune.freezeFeatureEncoder, misspelt
    c.finetune.freezeFeatureEncodr,
  ];
}

// @ts-expect-error a preset option, misspelt (masking.spanLength)
export const typo: SpeechPreset = { masking: { spanLenght: 5 } };
// @ts-expect-error a value outside the option's choices (ctc, classify)
export const choice: SpeechPreset = { finetune: { task: 'asr' } };
