/**
 * A synthetic speech corpus from espeak-ng: random sentences spoken by many
 * English voices (accents x voice variants) at random speeds and pitches,
 * 16 kHz mono 16-bit WAV, with fairseq manifests split BY VOICE so that the
 * valid and test sets measure generalisation to unseen speakers (or, for voice
 * classification, by utterance: every voice in every split, unseen sentences).
 * Each manifest gets label files naming the voice, accent and variant of each utterance.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { D2vError, Rng } from '@d2v/core';
import { readLabelFile, readManifest, writeLabelFile, writeManifest, type ManifestEntry } from './manifest.js';
import { randomSentence } from './sentences.js';
import { readWav, writeWav } from './wav.js';

export type CorpusSplit = 'train' | 'valid' | 'test';
export const CORPUS_SPLITS: readonly CorpusSplit[] = ['train', 'valid', 'test'];

/** Label files written next to each manifest (`train.voice`, ...): what each utterance can be classified by. */
export const CORPUS_LABELS = ['voice', 'accent', 'variant'] as const;
export type CorpusLabel = (typeof CORPUS_LABELS)[number];

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
  /**
   * 'voice' (default): no voice in two splits (unseen speakers). 'utterance': every voice in every
   * split, a share of each voice's utterances held out (voice / accent ID on unseen sentences).
   */
  splitBy?: 'voice' | 'utterance';
  /** Fractions held out for valid and test: of the voices, or of each voice's utterances (default 0.1 each, at least one each). */
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
  /** Voice variants to draw from ('' = each accent's own voice; default: the intelligible ones, no whisper or croak). */
  variants?: readonly string[];
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
  splitBy: 'voice' | 'utterance';
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

/**
 * English accents and voice variants available on this machine; a voice is `accent+variant`.
 * `wanted` variants (default PREFERRED_VARIANTS) that are not installed are left out, or, when
 * given explicitly, are an error naming them.
 */
export function listEspeakVoices(exe = 'espeak-ng', wanted?: readonly string[]): EspeakVoices {
  // `--voices=en` also lists a few variants (`!v/...`): they are timbres, not accents.
  const accents = [...new Set(voiceFiles(exe, 'en').filter((f) => !f.startsWith('!v/')))];
  const installed = new Set(voiceFiles(exe, 'variant').map((f) => f.replace(/^!v\//, '')));
  const missing = (wanted ?? []).filter((v) => v !== '' && !installed.has(v));
  if (missing.length) throw new D2vError('MISSING_TOOL', `espeak-ng has no voice variant ${missing.map((v) => `'${v}'`).join(', ')} (installed: ${[...installed].sort().join(', ')})`);
  const variants = (wanted ?? PREFERRED_VARIANTS).filter((v) => v === '' || installed.has(v));
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

/** The labels of a voice: `gmw/en-US+m3` -> voice `en-US_m3`, accent `en-US`, variant `m3` (`default` without one). */
export function voiceLabels(voice: string): Record<CorpusLabel, string> {
  const [accent, variant] = voice.replace(/^.*\//, '').split('+');
  return { voice: voiceSlug(voice), accent: accent!, variant: variant || 'default' };
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
  for (const split of CORPUS_SPLITS) out[split] = pairVoices(pool[split], accents, want[split], split);
  return out;
}

/** `n` distinct accent+variant voices: every variant gets an accent before any variant gets a second one. */
function pairVoices(variants: readonly string[], accents: readonly string[], n: number, what: string): string[] {
  // (i, (i + r) mod A) pairs are distinct.
  const list: string[] = [];
  for (let r = 0; r < accents.length && list.length < n; r++) {
    variants.forEach((v, i) => {
      if (list.length < n) list.push(voiceName(accents[(i + r) % accents.length]!, v));
    });
  }
  if (list.length < n) throw new RangeError(`buildCorpus: only ${list.length} distinct ${what} voices, asked for ${n}`);
  return list;
}

/** `n` distinct voices for a corpus split by utterance (all variants, all accents; no split of voices). */
export function chooseAllVoices(rng: Rng, available: EspeakVoices, n: number): string[] {
  if (available.accents.length === 0 || available.variants.length === 0) throw new D2vError('TOOL_FAILED', 'espeak-ng offers no English voice');
  return pairVoices(rng.shuffle([...available.variants]), rng.shuffle([...available.accents]), n, 'distinct');
}

/**
 * The split of each utterance when every voice is in every split: per voice, a seeded
 * round(k x fraction) of its k utterances (at least one each when k >= 3) go to valid and test.
 */
export function splitUtterancesByVoice(voices: readonly string[], rng: Rng, validFraction = 0.1, testFraction = 0.1): CorpusSplit[] {
  const byVoice = new Map<string, number[]>();
  voices.forEach((v, i) => {
    const items = byVoice.get(v);
    if (items) items.push(i);
    else byVoice.set(v, [i]);
  });
  const out = new Array<CorpusSplit>(voices.length).fill('train');
  for (const items of byVoice.values()) {
    const k = items.length;
    const held = (f: number) => (k >= 3 && f > 0 ? Math.max(1, Math.round(k * f)) : 0);
    const order = rng.shuffle([...items]);
    const nValid = held(validFraction);
    const nTest = held(testFraction);
    if (nValid + nTest >= k && k >= 3) throw new RangeError(`splitUtterancesByVoice: ${k} utterances of a voice cannot hold out ${nValid} + ${nTest}`);
    order.slice(0, nValid).forEach((i) => (out[i] = 'valid'));
    order.slice(nValid, nValid + nTest).forEach((i) => (out[i] = 'test'));
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
  const splitBy = opts.splitBy ?? 'voice';
  const available = listEspeakVoices(exe, opts.variants);
  const bySplit: Record<CorpusSplit, string[]> =
    splitBy === 'voice' ? chooseVoices(rng, available, nVoices, opts.validFraction ?? 0.1, opts.testFraction ?? 0.1) : { train: chooseAllVoices(rng, available, nVoices), valid: [], test: [] };
  // Round-robin over voices in split order, so every split gets its share of utterances.
  const order = [...bySplit.valid, ...bySplit.test, ...bySplit.train];

  mkdirSync(opts.out, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), 'd2v-espeak-'));
  const utterances: { voice: string; entry: ManifestEntry; words: string }[] = [];
  const used = new Set<string>();
  let bytes = 0;
  try {
    for (let i = 0; i < opts.utterances; i++) {
      const voice = order[i % order.length]!;
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
      utterances.push({ voice, entry: { path: rel, numSamples: audio.length }, words: sentence });
      if ((i + 1) % 50 === 0) log(`${i + 1}/${opts.utterances} utterances`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  // Split by voice: a voice's split; by utterance: drawn per voice after synthesis (same rng stream, so seeded).
  const voiceSplit = new Map<string, CorpusSplit>();
  for (const s of CORPUS_SPLITS) for (const v of bySplit[s]) voiceSplit.set(v, s);
  const splitOf =
    splitBy === 'voice'
      ? utterances.map((u) => voiceSplit.get(u.voice)!)
      : splitUtterancesByVoice(utterances.map((u) => u.voice), rng, opts.validFraction ?? 0.1, opts.testFraction ?? 0.1);
  const splits = {} as Record<CorpusSplit, CorpusSplitSummary>;
  for (const s of CORPUS_SPLITS) {
    const rows = utterances.filter((_, i) => splitOf[i] === s);
    const seconds = rows.reduce((sum, e) => sum + e.entry.numSamples / rate, 0);
    splits[s] = { utterances: rows.length, seconds: Math.round(seconds * 10) / 10, voices: splitBy === 'voice' ? bySplit[s] : [...new Set(rows.map((e) => e.voice))] };
    // A split held out with fraction 0 (e.g. no valid set) gets no manifest: opening it says so.
    if (rows.length === 0) continue;
    const tsv = join(opts.out, `${s}.tsv`);
    writeManifest(tsv, '.', rows.map((e) => e.entry), rows.map((e) => e.words));
    for (const kind of CORPUS_LABELS) writeLabelFile(tsv, kind, rows.map((e) => voiceLabels(e.voice)[kind]));
  }
  const summary: CorpusSummary = { out: opts.out, seed, splitBy, splits, bytes };
  const settings = { seed, splitBy, sampleRate: rate, minSeconds: minS, maxSeconds: maxS, speed: opts.speed ?? [130, 190], pitch: opts.pitch ?? [30, 70] };
  writeFileSync(join(opts.out, 'corpus.json'), JSON.stringify({ ...settings, splits, bytes, espeak: runEspeak(exe, ['--version']).trim() }, null, 2) + '\n');
  return summary;
}

export interface ResplitOptions {
  /** A corpus folder written by buildCorpus (manifests with `.voice` label files). */
  corpus: string;
  /** Its splits whose utterances are re-split, e.g. ['valid', 'test']: the voices pretraining never heard. */
  from: readonly CorpusSplit[];
  out: string;
  validFraction?: number;
  testFraction?: number;
  seed?: number;
}

/**
 * A voice-ID set from an existing corpus without copying audio: the utterances of `from` re-split
 * per voice (splitUtterancesByVoice) into manifests in `out` whose root points at the corpus, with
 * their transcripts and every label file carried over. Returns utterances and voices per split.
 */
export function resplitByUtterance(o: ResplitOptions): Record<CorpusSplit, { utterances: number; voices: string[] }> {
  const rows: { entry: ManifestEntry; words?: string; labels: Record<string, string>; rootDir: string }[] = [];
  for (const split of o.from) {
    const tsv = join(o.corpus, `${split}.tsv`);
    const m = readManifest(tsv);
    const labels = Object.fromEntries(CORPUS_LABELS.map((k) => [k, readLabelFile(tsv, k, m.entries.length)]));
    m.entries.forEach((entry, i) => rows.push({ entry, words: m.words?.[i], labels: Object.fromEntries(CORPUS_LABELS.map((k) => [k, labels[k]![i]!])), rootDir: m.rootDir }));
  }
  const roots = new Set(rows.map((r) => r.rootDir));
  if (roots.size !== 1) throw new RangeError(`resplitByUtterance: the ${o.from.join(', ')} manifests of ${o.corpus} have different roots (${[...roots].join(', ')})`);
  const splitOf = splitUtterancesByVoice(rows.map((r) => r.labels['voice']!), new Rng(o.seed ?? 1), o.validFraction ?? 0, o.testFraction ?? 0.4);
  const root = relative(o.out, [...roots][0]!).split(/[\\/]/).join('/') || '.';
  const out = {} as Record<CorpusSplit, { utterances: number; voices: string[] }>;
  for (const split of CORPUS_SPLITS) {
    const mine = rows.filter((_, i) => splitOf[i] === split);
    out[split] = { utterances: mine.length, voices: [...new Set(mine.map((r) => r.labels['voice']!))] };
    if (mine.length === 0) continue;
    const tsv = join(o.out, `${split}.tsv`);
    const words = mine.every((r) => r.words !== undefined) ? mine.map((r) => r.words!) : undefined;
    writeManifest(tsv, root, mine.map((r) => r.entry), words);
    for (const k of CORPUS_LABELS) writeLabelFile(tsv, k, mine.map((r) => r.labels[k]!));
  }
  return out;
}
