/** The `d2v` command line. */
import { createRequire } from 'node:module';
import { parseArgs } from './args.js';
import { helpText } from './help.js';
import { pretrain, finetune, evaluate, info } from '../run/commands.js';
import { loadModality, getModality } from '../registry/registry.js';
import { summarizePretraining, formatSummary } from '../eval/summary.js';
import { fullSchema } from '../config/resolve.js';
import { ConfigError } from '../errors.js';
import { CORE_SCHEMA } from '../config/coreSchema.js';
import { EXPORT_USAGE, exportFromArgs } from './export.js';
import { INFERENCE_COMMANDS, inferenceMain, type InferenceCommand } from './inference.js';
import { describeFailure, EXIT } from './failure.js';

const COMMANDS = ['pretrain', 'finetune', 'eval', 'info', 'export', ...INFERENCE_COMMANDS];

/** The version of @d2v/core, which is the version of the `d2v` command. */
export function d2vVersion(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

/** `--stop-after N`: a whole number of updates, at least 1. */
function stopAfterOf(raw: string | true | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`--stop-after expects a whole number of updates >= 1, got ${JSON.stringify(raw)}`, 'stop-after');
  return n;
}

export async function main(argv: string[]): Promise<number> {
  // predict/embed read a run, not a config: their own options (--input takes several paths).
  if (INFERENCE_COMMANDS.includes(argv[0] as InferenceCommand)) return inferenceMain(argv[0] as InferenceCommand, argv.slice(1));
  const args = parseArgs(argv);
  const command = args.command ?? 'help';
  const modalitySpec = typeof args.meta['modality'] === 'string' ? args.meta['modality'] : undefined;
  const preset = typeof args.meta['preset'] === 'string' ? args.meta['preset'] : undefined;
  const log = (m: string) => console.error(m);

  if (args.meta['version']) {
    console.log(`d2v ${d2vVersion()}`);
    return EXIT.ok;
  }
  if (args.meta['help'] && command === 'export') {
    console.log(EXPORT_USAGE);
    return EXIT.ok;
  }
  if (args.meta['help'] || command === 'help') {
    if (modalitySpec) {
      const m = await loadModality(modalitySpec);
      console.log(helpText(command, m.name, fullSchema(m.schema), m.presets, preset ?? m.defaultPreset));
    } else {
      console.log(helpText(command === 'help' ? 'pretrain' : command, undefined, CORE_SCHEMA));
      console.log('\nadd --modality NAME to see its options and presets');
    }
    return EXIT.ok;
  }
  if (!COMMANDS.includes(command)) {
    console.error(`d2v: unknown command '${command}'; commands: ${COMMANDS.join(', ')}`);
    return EXIT.usage;
  }
  if (command === 'info') {
    const backend = args.overrides.get('backend');
    console.log(await info(modalitySpec, typeof backend === 'string' ? backend : undefined));
    return EXIT.ok;
  }
  if (command === 'export') {
    const r = await exportFromArgs(args.meta, args.overrides, log);
    console.log(`exported ${r.modality} as Hugging Face ${r.architecture} (${r.tensors} tensors, ${r.parameters} parameters): ${r.dir}`);
    return EXIT.ok;
  }
  if (!modalitySpec) {
    console.error(`d2v ${command}: --modality NAME is required (e.g. --modality vision, or a plugin path)`);
    return EXIT.usage;
  }
  const run = {
    modality: modalitySpec,
    preset,
    configFile: typeof args.meta['config'] === 'string' ? args.meta['config'] : undefined,
    overrides: args.overrides,
    stopAfter: stopAfterOf(args.meta['stop-after']),
    log,
  };
  if (command === 'pretrain') {
    const r = await pretrain(run);
    const skipped = r.skippedUpdates ? ` (${r.skippedUpdates} skipped: NaN/Infinity loss or gradients)` : '';
    console.log(
      `pretrained ${r.step} steps${skipped}; last loss ${r.losses.at(-1)?.toFixed(4) ?? 'n/a'}; ` +
        `${r.itemsPerSecond.toFixed(1)} samples/s\ncheckpoint: ${r.lastCheckpoint ?? 'none yet'}\nmetrics: ${r.runDir}/metrics.jsonl\nplots: ${r.runDir}/loss.png`,
    );
    // The run ends with an answer: frozen-feature probe, pretrained vs random init (unless stopped early or --no-summary).
    if (!args.meta['no-summary'] && r.step >= r.config.train.steps) {
      const s = await summarizePretraining({ modality: getModality(r.config.modality), config: r.config, runDir: r.runDir, log });
      if (s) console.log(formatSummary(s));
    }
  } else if (command === 'finetune') {
    const r = await finetune(run);
    console.log(`fine-tuned ${r.step} steps; test ${JSON.stringify(r.metrics)}\ncheckpoint: ${r.lastCheckpoint ?? 'none yet'}\nplots: ${r.runDir}/loss.png`);
  } else {
    const task = typeof args.meta['task'] === 'string' ? args.meta['task'] : undefined;
    console.log(JSON.stringify(await evaluate({ ...run, task }), null, 2));
  }
  return EXIT.ok;
}

/** True when the command line or D2V_DEBUG asks for stack traces. */
function wantsStack(argv: string[]): boolean {
  const debug = process.env['D2V_DEBUG'];
  return (debug !== undefined && debug !== '' && debug !== '0') || argv.includes('--verbose');
}

/**
 * The one top-level error handler of the `d2v` command: runs `main` and turns any failure, of any
 * command, into one or two lines on stderr (what failed, which file or option, what to do) and a
 * documented exit code (README: "Exit codes"); `--verbose` or D2V_DEBUG=1 adds the stack.
 * Returns the exit code and sets process.exitCode.
 */
export async function runCli(argv: string[]): Promise<number> {
  let code: number;
  try {
    code = await main(argv);
  } catch (err) {
    const failure = describeFailure(err);
    for (const line of failure.lines) console.error(line);
    if (wantsStack(argv)) console.error(failure.stack);
    code = failure.exitCode;
  }
  process.exitCode = code;
  return code;
}
