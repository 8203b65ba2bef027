/** The `d2v` command line. */
import { parseArgs } from './args.js';
import { helpText } from './help.js';
import { pretrain, finetune, evaluate, info } from './commands.js';
import { loadModality, getModality } from '../registry/registry.js';
import { summarizePretraining, formatSummary } from '../eval/summary.js';
import { fullSchema } from '../config/resolve.js';
import { D2vError } from '../errors.js';
import { CORE_SCHEMA } from '../config/coreSchema.js';

const COMMANDS = ['pretrain', 'finetune', 'eval', 'info'];

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const command = args.command ?? 'help';
  const modalitySpec = typeof args.meta['modality'] === 'string' ? args.meta['modality'] : undefined;
  const preset = typeof args.meta['preset'] === 'string' ? args.meta['preset'] : undefined;
  const log = (m: string) => console.error(m);

  if (args.meta['help'] || command === 'help') {
    if (modalitySpec) {
      const m = await loadModality(modalitySpec);
      console.log(helpText(command, m.name, fullSchema(m.schema), m.presets, preset ?? m.defaultPreset));
    } else {
      console.log(helpText(command === 'help' ? 'pretrain' : command, undefined, CORE_SCHEMA));
      console.log('\nadd --modality NAME to see its options and presets');
    }
    return 0;
  }
  if (!COMMANDS.includes(command)) {
    console.error(`d2v: unknown command '${command}'; commands: ${COMMANDS.join(', ')}`);
    return 2;
  }
  if (command === 'info') {
    console.log(await info(modalitySpec));
    return 0;
  }
  if (!modalitySpec) {
    console.error(`d2v ${command}: --modality NAME is required (e.g. --modality vision, or a plugin path)`);
    return 2;
  }
  const run = {
    modality: modalitySpec,
    preset,
    configFile: typeof args.meta['config'] === 'string' ? args.meta['config'] : undefined,
    overrides: args.overrides,
    stopAfter: typeof args.meta['stop-after'] === 'string' ? Number(args.meta['stop-after']) : undefined,
    log,
  };
  if (command === 'pretrain') {
    const r = await pretrain(run);
    console.log(
      `pretrained ${r.step} steps; last loss ${r.losses.at(-1)?.toFixed(4) ?? 'n/a'}; ` +
        `${r.itemsPerSecond.toFixed(1)} samples/s\ncheckpoint: ${r.lastCheckpoint}\nmetrics: ${r.runDir}/metrics.jsonl\nplots: ${r.runDir}/loss.png`,
    );
    // The run ends with an answer: frozen-feature probe, pretrained vs random init (unless stopped early or --no-summary).
    if (!args.meta['no-summary'] && r.step >= r.config.train.steps) {
      const s = await summarizePretraining({ modality: getModality(r.config.modality), config: r.config, runDir: r.runDir, log });
      if (s) console.log(formatSummary(s));
    }
  } else if (command === 'finetune') {
    const r = await finetune(run);
    console.log(`fine-tuned ${r.step} steps; test ${JSON.stringify(r.metrics)}\ncheckpoint: ${r.lastCheckpoint}\nplots: ${r.runDir}/loss.png`);
  } else {
    const task = typeof args.meta['task'] === 'string' ? args.meta['task'] : undefined;
    console.log(JSON.stringify(await evaluate({ ...run, task }), null, 2));
  }
  return 0;
}

/** Runs main and turns d2v errors into one clear line and a non-zero exit. */
export async function runCli(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (err) {
    if (err instanceof D2vError) {
      console.error(`d2v: ${err.name}: ${err.message}`);
      process.exitCode = 1;
    } else throw err;
  }
}
