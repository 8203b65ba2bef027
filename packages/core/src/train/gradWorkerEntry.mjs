// Worker thread entry: loads the gradient worker module the main thread names (workerData.module,
// `new URL('./gradWorker.js', import.meta.url)` in parallel.ts). In a repo checkout that module is
// TypeScript: the thread first registers the sources, as bin/d2v.mjs does (a worker thread needs
// its own tsx and "@d2v/source" registration); a built package runs gradWorker.js directly.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { workerData } from 'node:worker_threads';

const source = new URL(workerData.module.replace(/\.js$/, '.ts'));
if (existsSync(fileURLToPath(source))) {
  await import('../sourceMode.mjs');
  await import(source.href);
} else {
  await import(workerData.module);
}
