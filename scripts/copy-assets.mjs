#!/usr/bin/env node
/**
 * Second half of every package's `build`: copies the files under src/ that tsc does not emit
 * into the same place under dist/, so code that finds them next to itself
 * (`new URL('./bmm.wasm', import.meta.url)`) works from dist/ as from src/: wasm modules,
 * plain .mjs modules (the worker entry, tfjs registrations) and hand-written declaration
 * files (.d.ts, .d.mts) that the emitted ones import. Run in the package's folder.
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** Files tsc compiles (and so emits itself): TypeScript sources that are not declaration files. */
const compiled = (file) => /\.[cm]?ts$/.test(file) && !/\.d\.[cm]?ts$/.test(file);

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

const src = 'src';
let copied = 0;
for (const file of files(src)) {
  if (compiled(file)) continue;
  const target = join('dist', relative(src, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
  copied++;
}
console.log(`copied ${copied} non-TypeScript file(s) from src/ to dist/`);
