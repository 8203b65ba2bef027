// @ts-check
/** File-system side of the generator: finding the workspace, writing a plan, linking the package. */
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { GeneratorError, relativePosix } from './generate.mjs';

/**
 * The nearest folder at or above `start` whose package.json declares npm workspaces.
 * @param {string} start
 */
export function findWorkspaceRoot(start) {
  let dir = resolve(start);
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        if (JSON.parse(readFileSync(file, 'utf8')).workspaces) return dir;
      } catch {
        // An unreadable package.json is not the workspace root; keep looking upwards.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new GeneratorError(`no npm workspace found at or above ${resolve(start)} (a package.json with "workspaces"); pass --root`);
    dir = parent;
  }
}

/**
 * Writes every planned file below root (refusing to overwrite anything).
 * @param {string} root
 * @param {import('./generate.mjs').ModalityPlan} plan
 */
export function writePlan(root, plan) {
  for (const f of plan.files) {
    const target = join(root, f.path);
    if (existsSync(target)) throw new GeneratorError(`${f.path} already exists; nothing was overwritten`);
  }
  for (const f of plan.files) {
    const target = join(root, f.path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, f.content);
  }
}

/**
 * Links node_modules/@d2v/<name> to the new package, as `npm install` does for
 * a workspace package, so `--modality <name>` resolves before the next install.
 * Returns one line saying what was done (or why not).
 * @param {string} root
 * @param {import('./generate.mjs').ModalityPlan} plan
 */
export function linkPackage(root, plan) {
  const modules = join(root, 'node_modules');
  if (!existsSync(modules)) return `not linked: ${modules} does not exist (run npm install)`;
  // A node_modules that is itself a link belongs to another checkout: linking there would leak this package into it.
  if (lstatSync(modules).isSymbolicLink()) return `not linked: ${modules} is a symbolic link to another folder (run npm install here)`;
  const scope = join(modules, '@d2v');
  const link = join(scope, plan.name);
  if (existsSync(link) || isDanglingLink(link)) return `not linked: ${link} already exists`;
  mkdirSync(scope, { recursive: true });
  const realScope = realpathSync(scope);
  if (!(realScope + sep).startsWith(realpathSync(root) + sep)) return `not linked: ${scope} lies outside the workspace`;
  symlinkSync(relativePosix(scope, join(root, plan.packageDir)), link, 'junction');
  return `linked ${link} -> ${plan.packageDir}`;
}

function isDanglingLink(/** @type {string} */ p) {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
