// @ts-check
'use strict';
/**
 * Nx generator `@d2v/tools:modality`: the same plan as `d2v-new-modality`,
 * written through Nx's Tree (so --dry-run and Nx's change listing work).
 * CommonJS because Nx require()s generators; the shared code is ESM, hence
 * the dynamic import. Needs nothing from @nx/devkit: a Tree is all it uses.
 */

/**
 * @param {import('nx/src/generators/tree').Tree} tree
 * @param {{ name: string, dir?: string, description?: string, link?: boolean }} options
 */
async function modalityGenerator(tree, options) {
  const { planModality } = await import('../../src/generate.mjs');
  const plan = planModality({
    name: options.name,
    dir: options.dir ?? 'packages',
    description: options.description,
    root: tree.root,
    // Ask the Tree, so files created earlier in the same Nx run count too.
    exists: (p) => tree.exists(p),
  });
  for (const f of plan.files) tree.write(f.path, f.content);
  // Runs after Nx has written the files (never on --dry-run).
  return async () => {
    const { linkPackage } = await import('../../src/workspace.mjs');
    if (options.link !== false) console.log(linkPackage(tree.root, plan));
    console.log(`\nnew modality '${plan.name}' (${plan.packageName}) in ${plan.packageDir}. Next:`);
    for (const n of plan.notes) console.log(`  - ${n}`);
  };
}

module.exports = modalityGenerator;
module.exports.default = modalityGenerator;
