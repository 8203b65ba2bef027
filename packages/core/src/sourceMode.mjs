// Development only (a repo checkout, never the published package): makes this thread run the
// @d2v/* TypeScript sources. It adds the "@d2v/source" export condition, which maps every @d2v/*
// package to src/ (the npm scripts of the repo set it through .npmrc; this covers `node bin/d2v.mjs`
// and worker threads), and lets tsx load .ts files. See README.md, "Development".
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

const hooks = `export async function resolve(specifier, context, next) {
  return next(specifier, { ...context, conditions: [...context.conditions, '@d2v/source'] });
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
registerTsx();
