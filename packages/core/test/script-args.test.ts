import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { ConfigError } from '../src/index.js';
import { parseScriptArgs, scriptHelp } from '../src/bench.js';

const spec = {
  usage: 'npx tsx bench/evidence.ts: an evidence run',
  values: { minutes: '15', out: 'runs/x', corpus: undefined },
  switches: ['reuse', 'no-baseline'],
  sets: ['set', 'pretrain-set'],
} as const;

describe('parseScriptArgs (the evidence scripts\' command lines)', () => {
  it('gives defaults, the last value of an option, switches, and repeated key=value sets', () => {
    const a = parseScriptArgs(['--minutes', '30', '--set', 'optim.lr=1e-3', '--reuse', '--set', 'x=a=b', '--out=runs/y', '--pretrain-set', 'seed=2', '--minutes', '45'], spec);
    expect(a.values).toEqual({ minutes: '45', out: 'runs/y', corpus: undefined });
    expect(a.number('minutes')).toBe(45);
    expect(a.switches).toEqual({ reuse: true, 'no-baseline': false });
    expect(a.sets).toEqual({ set: { 'optim.lr': '1e-3', x: 'a=b' }, 'pretrain-set': { seed: '2' } });
    expect(a.help).toBe(false);
    const none = parseScriptArgs([], spec);
    expect(none.values).toEqual({ minutes: '15', out: 'runs/x', corpus: undefined });
    expect(none.sets).toEqual({ set: {}, 'pretrain-set': {} });
    expect(parseScriptArgs(['-h'], spec).help).toBe(true);
  });

  it('refuses what it does not know, naming the option, the closest one and the script\'s options', () => {
    const fails = (argv: string[]) => () => parseScriptArgs(argv, spec);
    expect(fails(['--minuts', '3'])).toThrow(ConfigError);
    expect(fails(['--minuts', '3'])).toThrow("unknown option --minuts (did you mean --minutes?); options: --minutes, --out, --corpus, --reuse, --no-baseline, --set, --pretrain-set, --help");
    expect(fails(['--out'])).toThrow('--out needs a value');
    expect(fails(['--out', '--reuse'])).toThrow('--out needs a value');
    expect(fails(['--set', 'optim.lr'])).toThrow("--set expects key=value (got 'optim.lr')");
    expect(fails(['--reuse=yes'])).toThrow('--reuse is a switch and takes no value');
    expect(fails(['stray'])).toThrow("unexpected argument 'stray'");
    expect(() => parseScriptArgs(['--minutes', 'soon'], spec).number('minutes')).toThrow("--minutes expects a number, got 'soon'");
    expect(() => parseScriptArgs([], spec).number('corpus')).toThrow('--corpus expects a number, got nothing');
  });

  it('--help lists every option with its default', () => {
    expect(scriptHelp(spec)).toBe(
      [
        'npx tsx bench/evidence.ts: an evidence run',
        '',
        'options:',
        '  --minutes VALUE (default 15)',
        '  --out VALUE (default runs/x)',
        '  --corpus VALUE',
        '  --reuse',
        '  --no-baseline',
        '  --set key=value (repeatable)',
        '  --pretrain-set key=value (repeatable)',
      ].join('\n'),
    );
  });

  it('a script given a misspelt option prints one line and exits with the usage code (2)', () => {
    const script = resolve(__dirname, '../bench/pretrain-step.ts');
    const r = spawnSync('npx', ['tsx', script, '--step', '2'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^pretrain-step\.ts: unknown option --step \(did you mean --steps\?\); options: --modality, /)]);
    const help = spawnSync('npx', ['tsx', script, '--help'], { encoding: 'utf8', timeout: 120_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('  --steps VALUE (default 5)');
  });
});
