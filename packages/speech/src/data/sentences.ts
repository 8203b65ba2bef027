/**
 * Short English sentences from a small grammar over common words, for the
 * synthetic espeak-ng corpus. Every word is plain A-Z (plus the apostrophe in
 * contractions), so transcripts need no normalisation.
 */
import type { Rng } from '@d2v/core';

const DETERMINERS = ['the', 'a', 'my', 'your', 'our', 'this', 'that', 'every', 'one', 'his', 'her'];
const ADJECTIVES = [
  'big', 'small', 'old', 'young', 'red', 'green', 'blue', 'happy', 'quiet', 'dark', 'bright', 'warm', 'cold', 'little',
  'good', 'long', 'short', 'new', 'heavy', 'clever', 'busy', 'gentle', 'tired', 'brave', 'yellow', 'strange', 'lovely',
];
const NOUNS = [
  'dog', 'cat', 'bird', 'man', 'woman', 'child', 'friend', 'teacher', 'farmer', 'doctor', 'boat', 'car', 'house', 'tree',
  'river', 'garden', 'window', 'door', 'table', 'book', 'letter', 'song', 'story', 'city', 'road', 'hill', 'ship',
  'horse', 'apple', 'cake', 'ball', 'box', 'key', 'lamp', 'chair', 'train', 'flower', 'baker', 'sister', 'brother',
  'morning', 'picture', 'kitchen', 'forest', 'village', 'student', 'bottle', 'basket', 'neighbour',
];
const NAMES = ['anna', 'tom', 'lucy', 'peter', 'maria', 'james', 'sarah', 'david', 'emma', 'john'];
const PLACES = ['garden', 'kitchen', 'house', 'forest', 'village', 'city', 'river', 'car', 'boat', 'park', 'room', 'street'];
const PREPOSITIONS = ['in', 'near', 'behind', 'by', 'across', 'under', 'outside', 'inside'];
const ADVERBS = ['slowly', 'quickly', 'today', 'again', 'now', 'quietly', 'often', 'early', 'softly', 'always', 'never', 'gladly'];
/** [base form, third person singular]. */
const TRANSITIVE: [string, string][] = [
  ['see', 'sees'], ['find', 'finds'], ['like', 'likes'], ['take', 'takes'], ['open', 'opens'], ['hold', 'holds'],
  ['read', 'reads'], ['paint', 'paints'], ['bring', 'brings'], ['buy', 'buys'], ['carry', 'carries'], ['watch', 'watches'],
  ['want', 'wants'], ['need', 'needs'], ['help', 'helps'], ['call', 'calls'], ['follow', 'follows'], ['clean', 'cleans'],
  ['draw', 'draws'], ['love', 'loves'], ['visit', 'visits'], ['push', 'pushes'], ['sell', 'sells'], ['keep', 'keeps'],
];
const INTRANSITIVE: [string, string][] = [
  ['sleep', 'sleeps'], ['run', 'runs'], ['sing', 'sings'], ['wait', 'waits'], ['walk', 'walks'], ['smile', 'smiles'],
  ['laugh', 'laughs'], ['work', 'works'], ['fall', 'falls'], ['jump', 'jumps'], ['swim', 'swims'], ['stop', 'stops'],
  ['listen', 'listens'], ['arrive', 'arrives'], ['dance', 'dances'], ['rest', 'rests'], ['play', 'plays'], ['shine', 'shines'],
];
const WEATHER = ['cold', 'warm', 'long', 'quiet', 'lovely', 'bright', 'busy', 'strange', 'good'];
const TIMES = ['day', 'night', 'morning', 'evening', 'week', 'winter', 'summer'];

const pick = <T>(rng: Rng, list: readonly T[]): T => list[rng.int(list.length)]!;

function nounPhrase(rng: Rng, object = false): string[] {
  if (!object && rng.uniform() < 0.2) return [pick(rng, NAMES)];
  const np = [pick(rng, DETERMINERS)];
  if (rng.uniform() < 0.5) np.push(pick(rng, ADJECTIVES));
  np.push(pick(rng, NOUNS));
  // "a" before a vowel sound reads wrongly; keep the grammar simple and correct.
  if (np[0] === 'a' && /^[aeiou]/.test(np[1]!)) np[0] = 'an';
  return np;
}

const TEMPLATES: ((rng: Rng) => string[])[] = [
  (rng) => [...nounPhrase(rng), pick(rng, INTRANSITIVE)[1], ...(rng.uniform() < 0.5 ? [pick(rng, ADVERBS)] : [])],
  (rng) => [...nounPhrase(rng), pick(rng, TRANSITIVE)[1], ...nounPhrase(rng, true)],
  (rng) => [...nounPhrase(rng), pick(rng, INTRANSITIVE)[1], pick(rng, PREPOSITIONS), 'the', pick(rng, PLACES)],
  (rng) => ["it's", rng.uniform() < 0.5 ? 'a' : 'such a', pick(rng, WEATHER), pick(rng, TIMES)],
  (rng) => [...nounPhrase(rng), "doesn't", pick(rng, TRANSITIVE)[0], ...nounPhrase(rng, true)],
  (rng) => ['can', 'you', pick(rng, TRANSITIVE)[0], ...nounPhrase(rng, true), ...(rng.uniform() < 0.4 ? [pick(rng, ADVERBS)] : [])],
  (rng) => [pick(rng, ['he', 'she']), pick(rng, ADVERBS), pick(rng, TRANSITIVE)[1], ...nounPhrase(rng, true)],
  (rng) => ["don't", pick(rng, INTRANSITIVE)[0], pick(rng, PREPOSITIONS), 'the', pick(rng, PLACES)],
];

export interface SentenceOptions {
  minWords?: number;
  maxWords?: number;
}

/** One random sentence, lower case words separated by single spaces. */
export function randomSentence(rng: Rng, opts: SentenceOptions = {}): string {
  const lo = opts.minWords ?? 3;
  const hi = opts.maxWords ?? 7;
  // The grammar makes 2 to 8 words; other bounds could never be met.
  if (lo > 8 || hi < 2 || lo > hi) throw new RangeError(`randomSentence: no sentence of ${lo}..${hi} words (the grammar makes 2..8)`);
  for (;;) {
    const s = pick(rng, TEMPLATES)(rng).join(' ').split(' ');
    if (s.length >= lo && s.length <= hi) return s.join(' ');
  }
}
