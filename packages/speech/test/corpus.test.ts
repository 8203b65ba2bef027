import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { D2vError, Rng } from '@d2v/core';
import { buildCorpus, chooseVoices, listEspeakVoices, trimSilence, voiceLabels, voiceSlug } from '../src/data/corpus.js';
import { randomSentence } from '../src/data/sentences.js';
import { readLabelFile, readManifest } from '../src/data/manifest.js';
import { readWavInfo } from '../src/data/wav.js';
import { normalizeTranscript } from '../src/data/letters.js';

const tmp = mkdtempSync(join(tmpdir(), 'd2v-corpus-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('sentences', () => {
  it('are deterministic, within the word range, and already normalised', () => {
    const a = Array.from({ length: 50 }, ((rng) => () => randomSentence(rng, { minWords: 3, maxWords: 6 }))(new Rng(1)));
    const b = Array.from({ length: 50 }, ((rng) => () => randomSentence(rng, { minWords: 3, maxWords: 6 }))(new Rng(1)));
    expect(a).toEqual(b);
    expect(new Set(a).size).toBeGreaterThan(40);
    for (const s of a) {
      const n = s.split(' ').length;
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(6);
      expect(normalizeTranscript(s)).toBe(s.toUpperCase());
    }
    expect(() => randomSentence(new Rng(1), { minWords: 12 })).toThrow(RangeError);
  });
});

describe('espeak-ng corpus builder', () => {
  it('lists English accents and voice variants, without MBROLA voices', () => {
    const { accents, variants } = listEspeakVoices();
    expect(accents).toContain('gmw/en-US');
    expect(accents.length).toBeGreaterThanOrEqual(5);
    expect(accents.some((a) => a.startsWith('mb/') || a.startsWith('!v/'))).toBe(false);
    expect(variants).toContain('f3');
    expect(variants).toContain('');
    expect(variants).not.toContain('whisper');
    expect(voiceSlug('gmw/en-GB-scotland+m2')).toBe('en-GB-scotland_m2');
    expect(voiceLabels('gmw/en-GB-scotland+m2')).toEqual({ voice: 'en-GB-scotland_m2', accent: 'en-GB-scotland', variant: 'm2' });
    expect(voiceLabels('gmw/en-US')).toEqual({ voice: 'en-US', accent: 'en-US', variant: 'default' });
    // Asked-for variants: used as given, and a missing one is named.
    expect(listEspeakVoices('espeak-ng', ['whisper', 'm3']).variants).toEqual(['whisper', 'm3']);
    expect(() => listEspeakVoices('espeak-ng', ['m3', 'no-such-variant'])).toThrow(/espeak-ng has no voice variant 'no-such-variant'/);
  });

  it('chooses distinct voices whose variants (timbres) never cross splits', () => {
    const available = { accents: ['gmw/en', 'gmw/en-US', 'gmw/en-029'], variants: ['', 'm1', 'm2', 'm3', 'f1', 'f2', 'f3', 'f4', 'f5', 'klatt'] };
    const bySplit = chooseVoices(new Rng(2), available, 20);
    expect([bySplit.train.length, bySplit.valid.length, bySplit.test.length]).toEqual([16, 2, 2]);
    const all = [...bySplit.train, ...bySplit.valid, ...bySplit.test];
    expect(new Set(all).size).toBe(20);
    const variantOf = (v: string) => v.split('+')[1] ?? '';
    const sets = [bySplit.train, bySplit.valid, bySplit.test].map((l) => new Set(l.map(variantOf)));
    for (let i = 0; i < 3; i++) for (let j = i + 1; j < 3; j++) expect([...sets[i]!].filter((v) => sets[j]!.has(v))).toEqual([]);
    expect(() => chooseVoices(new Rng(2), available, 40)).toThrow(/only \d+ distinct train voices/);
  });

  it('trims leading and trailing silence but keeps a margin', () => {
    const x = new Float32Array(16000);
    x.fill(0.5, 4000, 8000);
    const y = trimSilence(x, 16000, 0.01);
    expect(y.length).toBe(4000 + 2 * 160);
  });

  it('makes a tiny corpus (3 utterances) split by voice, with manifests and 16 kHz 16-bit WAVs', () => {
    const out = join(tmp, 'tiny');
    const summary = buildCorpus({ out, utterances: 3, seed: 5 });
    const voicesBySplit: Record<string, Set<string>> = {};
    for (const split of ['train', 'valid', 'test'] as const) {
      const m = readManifest(join(out, `${split}.tsv`));
      expect(m.entries.length).toBe(1);
      expect(summary.splits[split].utterances).toBe(1);
      expect(m.words!.length).toBe(1);
      expect(m.letters![0]).toMatch(/^([A-Z'] |\| )+\|$/);
      const e = m.entries[0]!;
      const info = readWavInfo(join(m.rootDir, e.path));
      expect(info).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16, format: 1 });
      expect(info.frames).toBe(e.numSamples);
      expect(e.numSamples).toBeGreaterThanOrEqual(16000);
      expect(e.numSamples).toBeLessThanOrEqual(48000);
      voicesBySplit[split] = new Set(m.entries.map((x) => dirname(x.path)));
      // Label files name each utterance's voice, accent and variant.
      expect(readLabelFile(join(out, `${split}.tsv`), 'voice', 1)).toEqual([voiceLabels(summary.splits[split].voices[0]!).voice]);
      expect(readLabelFile(join(out, `${split}.tsv`), 'accent', 1)).toEqual([voiceLabels(summary.splits[split].voices[0]!).accent]);
      expect([...voicesBySplit[split]!]).toEqual(summary.splits[split].voices.map((v) => `wav/${voiceSlug(v)}`));
    }
    const all = [...voicesBySplit.train!, ...voicesBySplit.valid!, ...voicesBySplit.test!];
    expect(new Set(all).size).toBe(all.length); // no voice in two splits
    expect(JSON.parse(readFileSync(join(out, 'corpus.json'), 'utf8')).splits.train.utterances).toBe(1);
    expect(summary.bytes).toBeGreaterThan(3 * 32000);
  });

  it('says how to install espeak-ng when it is missing', () => {
    const out = join(tmp, 'none');
    let err: unknown;
    try {
      buildCorpus({ out, utterances: 3, espeak: join(tmp, 'no-such-espeak-ng') });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(D2vError);
    expect((err as Error).message).toMatch(/espeak-ng is not installed .*apt-get install espeak-ng/);
    expect(existsSync(join(out, 'train.tsv'))).toBe(false);
  });
});

describe('the shipped corpus data/espeak-small', () => {
  const root = join(import.meta.dirname, '..', 'data', 'espeak-small');

  it('has consistent manifests, 16 kHz files of 1-2.5 s, and voice-disjoint splits', () => {
    const voices: Set<string>[] = [];
    let total = 0;
    for (const split of ['train', 'valid', 'test']) {
      const m = readManifest(join(root, `${split}.tsv`));
      expect(m.words!.length).toBe(m.entries.length);
      total += m.entries.length;
      voices.push(new Set(m.entries.map((e) => dirname(e.path))));
      const labels = readLabelFile(join(root, `${split}.tsv`), 'voice', m.entries.length);
      m.entries.forEach((e, i) => expect(dirname(e.path)).toBe(`wav/${labels[i]}`));
      for (const e of m.entries.filter((_, i) => i % 10 === 0)) {
        const info = readWavInfo(join(m.rootDir, e.path));
        expect(info.frames).toBe(e.numSamples);
        expect(info.sampleRate).toBe(16000);
        expect(e.numSamples / 16000).toBeGreaterThanOrEqual(1);
        expect(e.numSamples / 16000).toBeLessThanOrEqual(2.5);
      }
    }
    expect(total).toBe(360);
    const all = voices.flatMap((s) => [...s]);
    expect(new Set(all).size).toBe(all.length);
  });
});
