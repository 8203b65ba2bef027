import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DataError, initBackend, Rng } from '@d2v/core';
import { readManifest, writeManifest } from '../src/data/manifest.js';
import { listWavFiles, openSpeechDataset } from '../src/data/dataset.js';
import { writeWav } from '../src/data/wav.js';
import { LETTERS, idsToText, letterLineToWords, normalizeTranscript, numberToWords, textToIds, wordsToLetterLine } from '../src/data/letters.js';
import { bucketBatches, collateAudio, randomCrop } from '../src/data/batching.js';

const fixtures = join(import.meta.dirname, 'fixtures', 'wav');
let tmp: string;

function tone(n: number, value: number): Float32Array {
  return new Float32Array(n).fill(value);
}

beforeAll(async () => {
  await initBackend('cpu');
  tmp = mkdtempSync(join(tmpdir(), 'd2v-manifest-'));
  mkdirSync(join(tmp, 'audio', 'spk1'), { recursive: true });
  mkdirSync(join(tmp, 'audio', 'spk2', 'deeper'), { recursive: true });
  writeWav(join(tmp, 'audio', 'spk1', 'a.wav'), tone(1600, 0.1), { sampleRate: 16000 });
  writeWav(join(tmp, 'audio', 'spk1', 'b.wav'), tone(800, 0.2), { sampleRate: 8000 }); // 1600 at 16 kHz
  writeWav(join(tmp, 'audio', 'spk2', 'deeper', 'c.wav'), tone(3200, 0.3), { sampleRate: 16000 });
  writeFileSync(join(tmp, 'audio', 'spk1', 'a.txt'), 'hello  world\n');
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('letters', () => {
  it('has blank at 0, | at 1, then A-Z and the apostrophe', () => {
    expect(LETTERS.length).toBe(29);
    expect(LETTERS[0]).toBe('<blank>');
    expect(LETTERS[1]).toBe('|');
    expect(LETTERS[2]).toBe('A');
    expect(LETTERS[27]).toBe('Z');
    expect(LETTERS[28]).toBe("'");
  });

  it('normalises case, punctuation, accents and numbers', () => {
    expect(normalizeTranscript("Don't pay 42 dollars, Zoë! -- it's ''quoted''")).toBe("DON'T PAY FORTY TWO DOLLARS ZOE IT'S QUOTED");
    expect(normalizeTranscript('Rock & roll, 1905 and 007')).toBe('ROCK AND ROLL ONE THOUSAND NINE HUNDRED FIVE AND ZERO ZERO SEVEN');
    expect(numberToWords(0)).toBe('ZERO');
    expect(numberToWords(115)).toBe('ONE HUNDRED FIFTEEN');
    expect(numberToWords(2_000_013)).toBe('TWO MILLION THIRTEEN');
  });

  it('maps text to ids and back, with | between words and at the end', () => {
    const ids = textToIds('Hi, you!');
    expect(Array.from(ids)).toEqual(['H', 'I', '|', 'Y', 'O', 'U', '|'].map((s) => LETTERS.indexOf(s)));
    expect(idsToText(ids)).toBe('HI YOU');
    expect(idsToText([0, ...ids, 0])).toBe('HI YOU');
    expect(Array.from(textToIds('Hi', { trailingBoundary: false }))).toEqual([LETTERS.indexOf('H'), LETTERS.indexOf('I')]);
    expect(textToIds('!!').length).toBe(0);
    expect(() => idsToText([29])).toThrow(/outside the letter vocabulary/);
  });

  it('writes and reads fairseq .ltr lines', () => {
    expect(wordsToLetterLine('hello world')).toBe('H E L L O | W O R L D |');
    expect(letterLineToWords('H E L L O | W O R L D |')).toBe('HELLO WORLD');
  });
});

describe('fairseq manifests', () => {
  it('round-trips .tsv, .ltr and .wrd, resolving a relative root against the manifest folder', () => {
    const entries = [
      { path: 'spk1/a.wav', numSamples: 1600 },
      { path: 'spk2/deeper/c.wav', numSamples: 3200 },
    ];
    writeManifest(join(tmp, 'lists', 'train.tsv'), '../audio', entries, ['Hello world', "it's 2 o'clock"]);
    expect(readFileSync(join(tmp, 'lists', 'train.tsv'), 'utf8')).toBe('../audio\nspk1/a.wav\t1600\nspk2/deeper/c.wav\t3200\n');
    expect(readFileSync(join(tmp, 'lists', 'train.ltr'), 'utf8')).toBe("H E L L O | W O R L D |\nI T ' S | T W O | O ' C L O C K |\n");
    expect(readFileSync(join(tmp, 'lists', 'train.wrd'), 'utf8')).toBe("HELLO WORLD\nIT'S TWO O'CLOCK\n");
    const m = readManifest(join(tmp, 'lists', 'train.tsv'));
    expect(m.root).toBe('../audio');
    expect(m.rootDir).toBe(join(tmp, 'audio'));
    expect(m.entries).toEqual(entries);
    expect(m.words).toEqual(['HELLO WORLD', "IT'S TWO O'CLOCK"]);
    expect(m.letters![0]).toBe('H E L L O | W O R L D |');
  });

  it('names the file and line of malformed manifests', () => {
    writeFileSync(join(tmp, 'bad.tsv'), '/root\nok.wav\t10\nbroken line without tab\n');
    expect(() => readManifest(join(tmp, 'bad.tsv'))).toThrow(DataError);
    expect(() => readManifest(join(tmp, 'bad.tsv'))).toThrow(/bad.tsv: line 3: expected/);
    writeFileSync(join(tmp, 'short.tsv'), '/root\na.wav\t10\nb.wav\t20\n');
    writeFileSync(join(tmp, 'short.ltr'), 'A |\n');
    expect(() => readManifest(join(tmp, 'short.tsv'))).toThrow(/short.ltr: 1 lines but .*short.tsv lists 2 files/);
    writeFileSync(join(tmp, 'empty.tsv'), '');
    expect(() => readManifest(join(tmp, 'empty.tsv'))).toThrow(/empty manifest/);
  });

  it('opens a manifest dataset with transcripts (from .ltr alone too)', () => {
    const ds = openSpeechDataset(join(tmp, 'lists'), { split: 'train' });
    expect(ds.length).toBe(2);
    expect(Array.from(ds.sizes)).toEqual([1600, 3200]);
    const item = ds.get(1);
    expect(item.sampleCount).toBe(3200);
    expect(item.audio[100]).toBeCloseTo(0.3, 4);
    expect(item.transcript).toBe("IT'S TWO O'CLOCK");
    expect(item.file).toBe(join(tmp, 'audio', 'spk2', 'deeper', 'c.wav'));
    rmSync(join(tmp, 'lists', 'train.wrd'));
    expect(openSpeechDataset(join(tmp, 'lists', 'train.tsv')).get(0).transcript).toBe('HELLO WORLD');
    expect(() => openSpeechDataset(join(tmp, 'lists'), { split: 'valid' })).toThrow(/no valid.tsv here \(found train.tsv\)/);
  });
});

describe('WAV folders and skipBad', () => {
  it('lists WAVs recursively, reads sizes from headers (at 16 kHz) and .txt transcripts', () => {
    expect(listWavFiles(join(tmp, 'audio')).map((f) => f.slice(tmp.length))).toEqual(['/audio/spk1/a.wav', '/audio/spk1/b.wav', '/audio/spk2/deeper/c.wav']);
    const ds = openSpeechDataset(join(tmp, 'audio'));
    expect(Array.from(ds.sizes)).toEqual([1600, 1600, 3200]);
    expect(ds.get(0).transcript).toBe('HELLO WORLD');
    expect(ds.get(1).transcript).toBeUndefined();
    expect(ds.get(1).audio.length).toBe(1600);
    expect(ds.skipped).toEqual([]);
  });

  it('without skipBad a broken file fails with its name; with skipBad it is skipped and counted', () => {
    const dir = join(tmp, 'mixed');
    mkdirSync(dir);
    for (const f of ['s16_16k.wav', 'not_wav.wav', 'truncated.wav', 'empty.wav', 'u8_8k.wav']) copyFileSync(join(fixtures, f), join(dir, f));
    expect(() => openSpeechDataset(dir)).toThrow(/empty.wav: empty/);
    const ds = openSpeechDataset(dir, { skipBad: true });
    expect(ds.length).toBe(2);
    expect(ds.skipped.map((s) => s.file.slice(dir.length + 1))).toEqual(['empty.wav', 'not_wav.wav', 'truncated.wav']);
    expect(ds.skipped[1]!.reason).toMatch(/not a WAV file/);
    expect(ds.source).toMatch(/2 wav files, 3 skipped/);
    expect(ds.get(1).audio.length).toBe(4000);

    // The same through a manifest (which also lists a file that does not exist).
    writeManifest(join(dir, 'train.tsv'), '.', ['s16_16k.wav', 'truncated.wav', 'gone.wav'].map((path) => ({ path, numSamples: 4000 })));
    const strict = openSpeechDataset(dir);
    expect(strict.length).toBe(3);
    expect(() => strict.get(1)).toThrow(/truncated.wav: truncated/);
    const lenient = openSpeechDataset(dir, { skipBad: true, cache: true });
    expect(lenient.length).toBe(1);
    expect(lenient.skipped.length).toBe(2);
    expect(lenient.get(0).audio).toBe(lenient.get(0).audio);
  });
});

describe('batching', () => {
  it('crops at random but inside the utterance', () => {
    const rng = new Rng(1);
    const x = Float32Array.from({ length: 100 }, (_, i) => i);
    const starts = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const c = randomCrop(x, 30, rng);
      expect(c.length).toBe(30);
      expect(c[29]! - c[0]!).toBe(29);
      starts.add(c[0]!);
    }
    expect(starts.size).toBeGreaterThan(10);
    expect(Math.max(...starts)).toBeLessThanOrEqual(70);
    expect(randomCrop(x, 200, rng)).toBe(x);
  });

  it('pads to the longest with a padding mask, or crops to the shortest, as [B, L] float32 tensors', () => {
    const rng = new Rng(2);
    const items = [{ audio: tone(3, 1), transcript: 'A' }, { audio: tone(5, 2) }, { audio: tone(4, 3) }];
    const before = tf.memory().numTensors;
    const padded = collateAudio(items);
    expect(padded.audio.shape).toEqual([3, 5]);
    expect(padded.audio.dtype).toBe('float32');
    expect(Array.from(padded.lengths)).toEqual([3, 5, 4]);
    expect(Array.from(padded.paddingMask)).toEqual([0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(padded.audio.arraySync()).toEqual([[1, 1, 1, 0, 0], [2, 2, 2, 2, 2], [3, 3, 3, 3, 0]]);
    expect(padded.transcripts).toEqual(['A', undefined, undefined]);
    const cropped = collateAudio(items, { pad: false, rng });
    expect(cropped.audio.shape).toEqual([3, 3]);
    expect(cropped.paddingMask.every((v) => v === 0)).toBe(true);
    const capped = collateAudio(items, { maxLength: 4, rng });
    expect(capped.audio.shape).toEqual([3, 4]);
    // Without an rng (evaluation), long rows are cut from the start: deterministic.
    const ramp = Float32Array.from({ length: 6 }, (_, i) => i);
    const fixed = collateAudio([{ audio: ramp }, { audio: tone(2, 9) }], { maxLength: 4 });
    expect(fixed.audio.arraySync()).toEqual([[0, 1, 2, 3], [9, 9, 0, 0]]);
    [padded, cropped, capped, fixed].forEach((b) => b.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('buckets by length: every index once, batches of neighbours in length, shuffled order, sample budget', () => {
    const rng = new Rng(3);
    const sizes = Array.from({ length: 100 }, () => 1000 + rng.int(9000));
    const batches = bucketBatches(sizes, { batchSize: 8, rng });
    expect(batches.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(batches.every((b) => b.length <= 8)).toBe(true);
    // Sorted batching: the spread inside a batch is far below the spread of the data.
    const spread = (b: number[]) => Math.max(...b.map((i) => sizes[i]!)) - Math.min(...b.map((i) => sizes[i]!));
    expect(Math.max(...batches.map(spread))).toBeLessThan(2500);
    const firstOfEach = batches.map((b) => Math.min(...b.map((i) => sizes[i]!)));
    expect(firstOfEach).not.toEqual([...firstOfEach].sort((a, b) => a - b)); // batch order is shuffled
    const budget = bucketBatches(sizes, { maxSamples: 40000, rng });
    expect(budget.every((b) => b.length * Math.max(...b.map((i) => sizes[i]!)) <= 40000)).toBe(true);
    const buckets = bucketBatches(sizes, { batchSize: 5, numBuckets: 4, rng });
    expect(buckets.flat().length).toBe(100);
    // Deterministic given the seed.
    expect(bucketBatches(sizes, { batchSize: 8, rng: new Rng(9) })).toEqual(bucketBatches(sizes, { batchSize: 8, rng: new Rng(9) }));
  });
});
