// Worker entry point. In a repo checkout it runs the TypeScript sources, as bin/d2v.mjs does
// (the worker thread needs its own tsx and "@d2v/source" registration); a built package runs
// gradWorker.js directly.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ts = new URL('./gradWorker.ts', import.meta.url);
if (existsSync(fileURLToPath(ts))) {
  await import('../sourceMode.mjs');
  await import(ts.href);
} else {
  await import(new URL('./gradWorker.js', import.meta.url).href);
}
