// Worker entry point. From TypeScript sources (a workspace checkout) it registers tsx first,
// as bin/d2v.mjs does; a built package runs gradWorker.js directly.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ts = new URL('./gradWorker.ts', import.meta.url);
if (existsSync(fileURLToPath(ts))) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(ts.href);
} else {
  await import(new URL('./gradWorker.js', import.meta.url).href);
}
