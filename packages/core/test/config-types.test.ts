/**
 * Config types are derived from the schema: the TypeScript compiler itself must refuse a
 * misspelt option (reading a config, writing a preset) and a value outside an option's choices,
 * naming the key. Each case compiles a small file against core's config modules (not the whole
 * package, to stay fast), and the same file with the names spelt right must compile cleanly.
 */
import { describe, it, expect } from 'vitest';
import ts from 'typescript';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../src/testing.js';

const CONFIG = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'config');
const NODE_TYPES = resolve(CONFIG, '..', '..', '..', '..', 'node_modules', '@types');

/** tsc's messages for `body` compiled after a small modality schema, as the packages declare theirs. */
function compile(body: string): string[] {
  const file = join(tempDir('config-types'), 'fixture.ts');
  writeFileSync(
    file,
    `import { int, opt, type Schema } from '${CONFIG}/schema.js';
import type { PresetsOf, ResolvedConfigOf } from '${CONFIG}/resolve.js';
const schema = {
  masking: { ratio: opt(0.6, 'fraction masked', { gt: 0, lt: 1 }), spanLength: int(3, 'steps per span') },
  encoder: { positions: opt('learned', 'positions', { choices: ['learned', 'relative'] }), scale: opt(null, 'scale', { type: 'number', nullable: true }) },
} satisfies Schema;
type Config = ResolvedConfigOf<typeof schema>;
${body}
`,
  );
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    typeRoots: [NODE_TYPES],
    skipLibCheck: true,
  };
  const program = ts.createProgram([file], options);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === file)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('config types derived from a schema', () => {
  it('compile when every option is spelt right, with the value types the schema declares', () => {
    const errors = compile(`
export const read = (c: Config): [number, number, 'learned' | 'relative', number | null, number, string] =>
  [c.masking.ratio, c.masking.spanLength, c.encoder.positions, c.encoder.scale, c.model.dim, c.optim.schedule];
export const presets = { tiny: { masking: { ratio: 0.5 }, encoder: { positions: 'relative' }, model: { norm: 'pre' } } } satisfies PresetsOf<typeof schema>;
`);
    expect(errors).toEqual([]);
  }, 60_000);

  it('refuse a misspelt option of the modality and of core, naming it', () => {
    const errors = compile(`
export const a = (c: Config) => c.masking.ratoi;
export const b = (c: Config) => c.optim.lrr;
`);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/Property 'ratoi' does not exist/);
    expect(errors[0]).toMatch(/Did you mean 'ratio'\?/);
    expect(errors[1]).toMatch(/Property 'lrr' does not exist/);
  }, 60_000);

  it('refuse a preset with a misspelt option or a value outside its choices, naming it', () => {
    const errors = compile(`
export const p = { tiny: { masking: { spanLenght: 3 } } } satisfies PresetsOf<typeof schema>;
export const q = { tiny: { encoder: { positions: 'absolute' } } } satisfies PresetsOf<typeof schema>;
export const r = { tiny: { optim: { schedule: 'cosine-ish' } } } satisfies PresetsOf<typeof schema>;
`);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/'spanLenght' does not exist/);
    expect(errors[1]).toMatch(/'"absolute"' is not assignable to type '"learned" \| "relative"/);
    expect(errors[2]).toMatch(/'"cosine-ish"' is not assignable/);
  }, 60_000);
});
