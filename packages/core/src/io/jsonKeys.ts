/**
 * JSON.parse silently keeps the last of two equal keys. A safetensors header
 * naming a tensor twice is ambiguous, so the reader scans for repeats itself.
 */

export interface DuplicateKey {
  key: string;
  /** Keys of the enclosing objects, outermost first ([] for a top-level key). */
  path: string[];
}

interface Frame {
  /** Keys seen so far; null for arrays. */
  keys: Set<string> | null;
  expectKey: boolean;
  lastKey: string;
}

/**
 * The first repeated key of any object in `json`, or undefined.
 * `json` must already be valid JSON (parse it first): this is a scanner, not a validator.
 */
export function findDuplicateKey(json: string): DuplicateKey | undefined {
  const stack: Frame[] = [];
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      const top = stack.at(-1);
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        const path = stack.slice(0, -1).map((f) => f.lastKey);
        if (top.keys.has(key)) return { key, path };
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === '{') {
      stack.push({ keys: new Set(), expectKey: true, lastKey: '' });
    } else if (c === '[') {
      stack.push({ keys: null, expectKey: false, lastKey: '' });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack.at(-1);
      if (top?.keys) top.expectKey = true;
    }
  }
  return undefined;
}
