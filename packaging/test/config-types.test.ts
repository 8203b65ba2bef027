/**
 * Each modality package's config types are derived from its schema, so a misspelt or mistyped
 * option fails to compile. Each package proves it in test/config-typos.ts: every line after a
 * `@ts-expect-error` misspells an option, and the package's typecheck (`npm test` runs it) fails
 * if one of them compiles. Checked here: the typecheck really compiles that file, and the file
 * holds such lines for the package's own options, core's and its presets'.
 */
import { describe, it, expect } from 'vitest';
import ts from 'typescript';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MODALITIES = ['vision', 'speech', 'text'];

/** The files `tsc -p tsconfig.json` (the package's typecheck script) compiles. */
function typecheckedFiles(dir: string): string[] {
  const host: ts.ParseConfigFileHost = {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  };
  const parsed = ts.getParsedCommandLineOfConfigFile(join(dir, 'tsconfig.json'), {}, host);
  if (!parsed) throw new Error(`${dir}/tsconfig.json cannot be read`);
  return parsed.fileNames;
}

describe('a misspelt option fails the typecheck of every modality package', () => {
  for (const name of MODALITIES) {
    it(name, () => {
      const dir = join(REPO, 'packages', name);
      const script = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).scripts.typecheck;
      expect(script).toBe('tsc -p tsconfig.json --noEmit');
      const file = join(dir, 'test', 'config-typos.ts');
      expect(typecheckedFiles(dir)).toContain(file);
      const lines = readFileSync(file, 'utf8').split('\n');
      const expected = lines.flatMap((l, i) => (l.trim().startsWith('// @ts-expect-error') ? [lines[i + 1]!.trim()] : []));
      // Reading the package's own options and core's, and writing presets.
      expect(expected.length).toBeGreaterThanOrEqual(4);
      expect(expected.some((l) => /^c\.(optim|finetune)\./.test(l))).toBe(true);
      expect(expected.some((l) => /^c\.masking\./.test(l) || /^c\.vision\.mask/.test(l))).toBe(true);
      expect(expected.some((l) => /: \w+Preset = /.test(l))).toBe(true);
    });
  }
});
