// @ts-check
/** `d2v-new-modality <name> [--dir packages]`: the generator without Nx. */
import { join } from 'node:path';
import { GeneratorError, planModality } from './generate.mjs';
import { findWorkspaceRoot, linkPackage, writePlan } from './workspace.mjs';

export const USAGE = `usage: d2v-new-modality <name> [options]

Creates <dir>/<name>: the package @d2v/<name>, a small but complete data2vec
modality on generated multichannel time series (encoder, span masking, data,
tiny and paper-base presets, fine-tuning, linear probe, tests) to adapt.

options:
  --dir DIR            workspace folder for the package (default: packages)
  --description TEXT   one line describing the modality
  --root PATH          workspace root (default: nearest folder above with a
                       package.json declaring "workspaces")
  --no-link            do not link node_modules/@d2v/<name> (npm install will)
  --dry-run            list the files without writing anything
  -h, --help           this text

The same generator runs through Nx: npx nx g @d2v/tools:modality <name>
Guide: docs/extending.md`;

/** Thrown for command-line mistakes (exit code 2). */
class UsageError extends Error {}

/**
 * @param {string[]} argv
 * @returns {{ name?: string, dir?: string, description?: string, root?: string, link: boolean, dryRun: boolean, help: boolean }}
 */
export function parseCliArgs(argv) {
  /** @type {ReturnType<typeof parseCliArgs>} */
  const out = { link: true, dryRun: false, help: false };
  const names = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = /** @type {string} */ (argv[i]);
    const [flag, inline] = tok.startsWith('--') && tok.includes('=') ? [tok.slice(0, tok.indexOf('=')), tok.slice(tok.indexOf('=') + 1)] : [tok, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    if (flag === '--help' || flag === '-h') out.help = true;
    else if (flag === '--dir' || flag === '--directory') out.dir = value();
    else if (flag === '--description') out.description = value();
    else if (flag === '--root') out.root = value();
    else if (flag === '--no-link') out.link = false;
    else if (flag === '--link') out.link = true;
    else if (flag === '--dry-run') out.dryRun = true;
    else if (flag.startsWith('-')) throw new UsageError(`unknown option ${flag}`);
    else names.push(tok);
  }
  if (names.length > 1) throw new UsageError(`one modality name expected, got ${names.join(' ')}`);
  out.name = names[0];
  return out;
}

/**
 * Runs the command; returns the exit code (0 done, 1 refused, 2 usage error).
 * @param {string[]} argv
 * @param {{ cwd?: string, out?: (line: string) => void, err?: (line: string) => void }} [io]
 */
export function runNewModality(argv, io = {}) {
  const out = io.out ?? ((/** @type {string} */ l) => console.log(l));
  const err = io.err ?? ((/** @type {string} */ l) => console.error(l));
  try {
    const args = parseCliArgs(argv);
    if (args.help) {
      out(USAGE);
      return 0;
    }
    const root = args.root ? join(io.cwd ?? process.cwd(), args.root) : findWorkspaceRoot(io.cwd ?? process.cwd());
    const plan = planModality({ name: /** @type {string} */ (args.name), dir: args.dir, description: args.description, root });
    if (args.dryRun) {
      for (const f of plan.files) out(`would create ${f.path}`);
      out('dry run: nothing written');
      return 0;
    }
    writePlan(root, plan);
    for (const f of plan.files) out(`created ${f.path}`);
    if (args.link) out(linkPackage(root, plan));
    out(`\nnew modality '${plan.name}' (${plan.packageName}) in ${plan.packageDir}. Next:`);
    for (const n of plan.notes) out(`  - ${n}`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`d2v-new-modality: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof GeneratorError) {
      err(`d2v-new-modality: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
