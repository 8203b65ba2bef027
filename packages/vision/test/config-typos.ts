/**
 * Misspelt and mistyped options must not compile: the package's typecheck (`tsc -p tsconfig.json`,
 * part of `npm test`) compiles this file, and each `@ts-expect-error` below fails it if the line
 * after it compiles. Nothing here runs. packaging/test/config-types.test.ts checks that the
 * typecheck includes this file.
 */
import type { VisionConfig, VisionPreset } from '../src/index.js';

export function misspelt(c: VisionConfig): unknown[] {
  return [
    // @ts-expect-error vision.imageSize, misspelt
    c.vision.imageSzie,
    // @ts-expect-error the mask ratio moved to masking.ratio
    c.vision.maskRatio,
    // @ts-expect-error masking.inverseBlockSize, misspelt
    c.masking.inverseBlokSize,
    // @ts-expect-error a core option (optim.lr), misspelt
    c.optim.lrr,
  ];
}

// @ts-expect-error a preset option, misspelt (masking.ratio)
export const typo: VisionPreset = { masking: { ratoi: 0.5 } };
// @ts-expect-error a value outside the option's choices (learned, relative)
export const choice: VisionPreset = { vision: { positions: 'absolute' } };
// @ts-expect-error a value of the wrong type
export const wrongType: VisionPreset = { vision: { cls: 'yes' } };
