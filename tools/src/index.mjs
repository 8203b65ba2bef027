// @ts-check
/** @d2v/tools: the new-modality generator as a library. */
export { RESERVED_NAMES, TEMPLATE_DIR, GeneratorError, validateModalityName, planModality, renderTemplate, coreVersions } from './generate.mjs';
export { findWorkspaceRoot, writePlan, linkPackage } from './workspace.mjs';
export { runNewModality, parseCliArgs, USAGE } from './cli.mjs';
