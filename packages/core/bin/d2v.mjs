#!/usr/bin/env node
// The d2v command. An installed package runs the compiled JavaScript in dist/. A repo checkout,
// recognised by src/ (which the published package does not ship), runs the TypeScript sources
// instead, so development needs no build step (README.md, "Development").
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let cli;
if (existsSync(source)) {
  await import('../src/sourceMode.mjs');
  cli = await import(source.href);
} else {
  cli = await import('../dist/cli/main.js');
}
await cli.runCli(process.argv.slice(2));
