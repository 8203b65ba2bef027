/**
 * A synthetic speech corpus from espeak-ng: random sentences spoken by many
 * English voices (accents x voice variants) at random speeds and pitches,
 * 16 kHz mono 16-bit WAV, with fairseq manifests split BY VOICE so that the
 * valid and test sets measure generalisation to unseen speakers.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { D2vError, Rng } from '@d2v/core';
import { writeManifest, type ManifestEntry } from './manifest.js';
import { randomSentence } from './sentences.js';
import { readWav, writeWav } from './wav.js';

export type CorpusSplit = 'train' | 'valid' | 'test';
export const CORPUS_SPLITS: readonly CorpusSplit[] = ['train', 'valid', 'test'];

/** espeak-ng voice variants that stay intelligible (no whisper, croak or robot voices). */
const PREFERRED_VARIANTS = [
  '', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'f1', 'f2', 'f3', 'f4', 'f5', 'klatt', 'klatt2', 'klatt3', 'adam', 'Alicia',
  'Andrea', 'belinda', 'benjamin', 'david', 'ed', 'edward', 'john', 'linda', 'max', 'paul', 'robert', 'steph', 'travis',
  'victor', 'zac', 'aunty', 'grandma', 'grandpa', 'Annie', 'michel', 'quincy', 'rob',
];

export interface CorpusOptions {
  out: string;
  utterances: number;
  seed?: number;
  /** Distinct voices (default: about one per 12 utterances, at least 3). */
  voices?: number;
  /** Fractions of the voices held out for valid and test (default 0.1 each, at least one voice each). */
  validFraction?: number;
  testFraction?: number;
  /** Accepted utterance duration after trimming silence (default 1-3 s). */
  minSeconds?: number;
  maxSeconds?: number;
  /** Words per sentence (default 3-6). */
  minWords?: number;
  maxWords?: number;
  /** espeak-ng words per minute (default 130-190) and pitch 0-99 (default 30-70), drawn uniformly per utterance. */
  speed?: [number, number];
  pitch?: [number, number];
  /** The espeak-ng executable (default: `espeak-ng` on the PATH). */
  espeak?: string;
  log?: (msg: string) => void;
}

export interface CorpusSplitSummary {
  utterances: number;
  seconds: number;
  voices: string[];
}

export interface CorpusSummary {
  out: string;
  seed: number;
  splits: Record<CorpusSplit, CorpusSplitSummary>;
  /** Bytes of WAV audio written. */
  bytes: number;
}

function runEspeak(exe: string, args: string[]): string {
  try {
    return execFileSync(exe, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new D2vError('MISSING_TOOL', `espeak-ng is not installed (${exe} not found); install it with: apt-get install espeak-ng`, { cause: err });
    }
    throw new D2vError('TOOL_FAILED', `${exe} ${args.slice(0, 6).join(' ')} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

/** The File column of `espeak-ng --voices=...` rows (minus MBROLA voices, which need extra packages). */
function voiceFiles(exe: string, filter: string): string[] {
  return runEspeak(exe, [`--voices=${filter}`])
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 5 && !cols[4]!.startsWith('mb/'))
    .map((cols) => cols[4]!);
}

export interface EspeakVoices {
  /** English accents, as `-v` names like `gmw/en-US`. */
  accents: string[];
  /** Installed variants (voice timbres) from PREFERRED_VARIANTS; '' is the accent's own voice. */
  variants: string[];
}

/** English accents and voice variants available on this machine; a voice is `accent+variant`. */
export function listEspeakVoices(exe = 'espeak-ng'): EspeakVoices {
  // `--voices=en` also lists a few variants (`!v/...`): they are timbres, not accents.
  const accents = [...new Set(voiceFiles(exe, 'en').filter((f) => !f.startsWith('!v/')))];
  const installed = new Set(voiceFiles(exe, 'variant').map((f) => f.replace(/^!v\//, '')));
  const variants = PREFERRED_VARIANTS.filter((v) => v === '' || installed.has(v));
  return { accents, variants };
}

/** The `-v` argument for an accent and a variant. */
export function voiceName(accent: string, variant: string): string {
  return variant ? `${accent}+${variant}` : accent;
}

/** A file-system friendly voice name: `gmw/en-US+f3` -> `en-US_f3`. */
export function voiceSlug(voice: string): string {
  return voice.replace(/^.*\//, '').replace(/\+/g, '_').replace(/[^A-Za-z0-9_-]/g, '');
}

/** Drops leading and trailing near-silence (below 1% of the peak), keeping a short margin. */
export function trimSilence(x: Float32Array, sampleRate: number, marginSeconds = 0.08): Float32Array {
  let peak = 0;
  for (let i = 0; i < x.length; i++) peak = Math.max(peak, Math.abs(x[i]!));
  const thr = peak * 0.01;
  let a = 0;
  while (a < x.length && Math.abs(x[a]!) <= thr) a++;
  let b = x.length;
  while (b > a && Math.abs(x[b - 1]!) <= thr) b--;
  const m = Math.round(marginSeconds * sampleRate);
  return x.slice(Math.max(0, a - m), Math.min(x.length, b + m));
}

const randInt = (rng: Rng, [lo, hi]: [number, number]) => lo + rng.int(hi - lo + 1);

/**
 * Picks `n` voices split into train/valid/test (at least one each). The split is by variant
 * (the timbre: no variant is heard in two splits), so held-out voices are unseen speakers;
 * accents recur across splits, as dialects do across speakers of a real corpus.
 */
export function chooseVoices(rng: Rng, available: EspeakVoices, n: number, validFraction = 0.1, testFraction = 0.1): Record<CorpusSplit, string[]> {
  const variants = rng.shuffle([...available.variants]);
  const accents = rng.shuffle([...available.accents]);
  const share = (total: number, f: number) => Math.max(1, Math.round(total * f));
  const vValid = share(variants.length, validFraction);
  const vTest = share(variants.length, testFraction);
  if (variants.length - vValid - vTest < 1 || accents.length === 0) {
    throw new D2vError('TOOL_FAILED', `espeak-ng offers ${accents.length} English accents and ${variants.length} variants; need 1 accent and 3 variants`);
  }
  const nValid = share(n, validFraction);
  const nTest = share(n, testFraction);
  if (n - nValid - nTest < 1) throw new RangeError(`buildCorpus: ${n} voices cannot fill three splits`);
  const pool: Record<CorpusSplit, string[]> = {
    valid: variants.slice(0, vValid),
    test: variants.slice(vValid, vValid + vTest),
    train: variants.slice(vValid + vTest),
  };
  const want: Record<CorpusSplit, number> = { valid: nValid, test: nTest, train: n - nValid - nTest };
  const out = {} as Record<CorpusSplit, string[]>;
  for (const split of CORPUS_SPLITS) {
    // Every variant gets an accent before any variant gets a second one; (i, (i + r) mod A) pairs are distinct.
    const list: string[] = [];
    for (let r = 0; r < accents.length && list.length < want[split]; r++) {
      pool[split].forEach((v, i) => {
        if (list.length < want[split]) list.push(voiceName(accents[(i + r) % accents.length]!, v));
      });
    }
    if (list.length < want[split]) throw new RangeError(`buildCorpus: only ${list.length} distinct ${split} voices, asked for ${want[split]}`);
    out[split] = list;
  }
  return out;
}

/**
 * Synthesises the corpus into `out`: `wav/<voice>/<id>.wav`, `{train,valid,test}.{tsv,ltr,wrd}`
 * and `corpus.json` (voices per split, counts, settings).
 */
export function buildCorpus(opts: CorpusOptions): CorpusSummary {
  const exe = opts.espeak ?? 'espeak-ng';
  const seed = opts.seed ?? 1;
  const rng = new Rng(seed);
  const rate = 16000;
  const minS = opts.minSeconds ?? 1;
  const maxS = opts.maxSeconds ?? 3;
  const log = opts.log ?? (() => {});
  if (!(opts.utterances >= 3)) throw new RangeError(`buildCorpus: need at least 3 utterances (one per split), got ${opts.utterances}`);

  const nVoices = opts.voices ?? Math.max(3, Math.round(opts.utterances / 12));
  const bySplit = chooseVoices(rng, listEspeakVoices(exe), nVoices, opts.validFraction ?? 0.1, opts.testFraction ?? 0.1);
  const splitOf = new Map<string, CorpusSplit>();
  for (const s of CORPUS_SPLITS) for (const v of bySplit[s]) splitOf.set(v, s);
  // Round-robin over voices in split order, so every split gets its share of utterances.
  const order = [...bySplit.valid, ...bySplit.test, ...bySplit.train];

  mkdirSync(opts.out, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), 'd2v-espeak-'));
  const entries: Record<CorpusSplit, { entry: ManifestEntry; words: string }[]> = { train: [], valid: [], test: [] };
  const seconds: Record<CorpusSplit, number> = { train: 0, valid: 0, test: 0 };
  const used = new Set<string>();
  let bytes = 0;
  try {
    for (let i = 0; i < opts.utterances; i++) {
      const voice = order[i % order.length]!;
      const split = splitOf.get(voice)!;
      let audio: Float32Array | undefined;
      let sentence = '';
      // Redraw the sentence (and prosody) until the audio fits the duration range; sentences are unique corpus-wide.
      for (let attempt = 0; attempt < 50 && !audio; attempt++) {
        sentence = randomSentence(rng, { minWords: opts.minWords ?? 3, maxWords: opts.maxWords ?? 6 });
        const speed = randInt(rng, opts.speed ?? [130, 190]);
        const pitch = randInt(rng, opts.pitch ?? [30, 70]);
        if (used.has(sentence)) continue;
        const tmp = join(scratch, 'u.wav');
        runEspeak(exe, ['-v', voice, '-s', String(speed), '-p', String(pitch), '-w', tmp, sentence]);
        const x = trimSilence(readWav(tmp, { targetRate: rate }), rate);
        if (x.length >= minS * rate && x.length <= maxS * rate) audio = x;
      }
      if (!audio) {
        throw new RangeError(`buildCorpus: voice ${voice} produced no ${minS}-${maxS} s utterance in 50 tries; widen the duration or word range`);
      }
      used.add(sentence);
      const slug = voiceSlug(voice);
      const rel = `wav/${slug}/${slug}-${String(i).padStart(5, '0')}.wav`;
      mkdirSync(join(opts.out, 'wav', slug), { recursive: true });
      writeWav(join(opts.out, rel), audio, { sampleRate: rate });
      bytes += statSync(join(opts.out, rel)).size;
      entries[split].push({ entry: { path: rel, numSamples: audio.length }, words: sentence });
      seconds[split] += audio.length / rate;
      if ((i + 1) % 50 === 0) log(`${i + 1}/${opts.utterances} utterances`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  const splits = {} as Record<CorpusSplit, CorpusSplitSummary>;
  for (const s of CORPUS_SPLITS) {
    writeManifest(join(opts.out, `${s}.tsv`), '.', entries[s].map((e) => e.entry), entries[s].map((e) => e.words));
    splits[s] = { utterances: entries[s].length, seconds: Math.round(seconds[s] * 10) / 10, voices: bySplit[s] };
  }
  const summary: CorpusSummary = { out: opts.out, seed, splits, bytes };
  const settings = { seed, sampleRate: rate, minSeconds: minS, maxSeconds: maxS, speed: opts.speed ?? [130, 190], pitch: opts.pitch ?? [30, 70] };
  writeFileSync(join(opts.out, 'corpus.json'), JSON.stringify({ ...settings, splits, bytes, espeak: runEspeak(exe, ['--version']).trim() }, null, 2) + '\n');
  return summary;
}
