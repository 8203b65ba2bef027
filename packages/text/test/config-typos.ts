/**
 * Misspelt and mistyped options must not compile: the package's typecheck (`tsc -p tsconfig.json`,
 * part of `npm test`) compiles this file, and each `@ts-expect-error` below fails it if the line
 * after it compiles. Nothing here runs. packaging/test/config-types.test.ts checks that the
 * typecheck includes this file.
 */
import type { TextConfig, TextPreset } from '../src/index.js';

export function misspelt(c: TextConfig): unknown[] {
  return [
    // @ts-expect-error text.blockSize, misspelt
    c.text.blocksize,
    // @ts-expect-error the masked fraction is masking.ratio now
    c.masking.prob,
    // @ts-expect-error tokenizer.model, misspelt
    c.tokenizer.modle,
    // @ts-expect-error a core option (finetune.warmupSteps), misspelt
    c.finetune.warmupStep,
  ];
}

// @ts-expect-error a preset option, misspelt (masking.lossOn)
export const typo: TextPreset = { masking: { losOn: 'selected' } };
// @ts-expect-error a value outside the option's choices (masked-input, selected)
export const choice: TextPreset = { masking: { lossOn: 'everything' } };
