/**
 * Raw RFC 822 e-mail -> plain text for the SpamAssassin classification set:
 * the Subject plus the readable body (text/plain preferred over text/html,
 * quoted-printable and base64 decoded, HTML tags and entities removed,
 * addresses replaced by "[email]"). Headers other than Subject are dropped
 * because they leak the label (the corpus' spam and ham came through
 * different mail servers).
 */
import { TextDecoder } from 'node:util';
import { chunkText } from './textFiles.js';

interface Part {
  headers: Map<string, string>;
  body: string;
}

function parseHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  // Continuation lines start with whitespace (header folding).
  for (const line of block.replace(/\r/g, '').replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return headers;
}

function splitPart(raw: string): Part {
  const text = raw.replace(/\r\n/g, '\n');
  const sep = text.indexOf('\n\n');
  if (sep < 0) return { headers: parseHeaders(text), body: '' };
  return { headers: parseHeaders(text.slice(0, sep)), body: text.slice(sep + 2) };
}

function charsetDecoder(contentType: string): TextDecoder {
  const label = /charset="?([^";\s]+)"?/i.exec(contentType)?.[1] ?? 'latin1';
  try {
    return new TextDecoder(label);
  } catch {
    return new TextDecoder('latin1');
  }
}

/** Bytes of a string whose chars are all < 256 (a "binary string"). */
function binaryBytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
}

function decodeQuotedPrintable(s: string): string {
  return s.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function decodeBody(part: Part): string {
  const encoding = (part.headers.get('content-transfer-encoding') ?? '').toLowerCase();
  const decoder = charsetDecoder(part.headers.get('content-type') ?? '');
  if (encoding === 'base64') return decoder.decode(Buffer.from(part.body.replace(/\s+/g, ''), 'base64'));
  if (encoding === 'quoted-printable') return decoder.decode(binaryBytes(decodeQuotedPrintable(part.body)));
  return part.body;
}

/** RFC 2047 encoded words in headers, e.g. =?ISO-8859-1?Q?caf=E9?=. */
export function decodeEncodedWords(header: string): string {
  return header.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, charset: string, kind: string, data: string) => {
    let decoder: TextDecoder;
    try {
      decoder = new TextDecoder(charset);
    } catch {
      decoder = new TextDecoder('latin1');
    }
    if (kind.toUpperCase() === 'B') return decoder.decode(Buffer.from(data, 'base64'));
    return decoder.decode(binaryBytes(decodeQuotedPrintable(data.replace(/_/g, ' '))));
  });
}

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '(c)', reg: '(R)' };

export function htmlToText(html: string): string {
  return html
    .replace(/<(style|script)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Math.min(Number(d), 0x10ffff)))
    .replace(/&([a-z]+);/gi, (m, name: string) => ENTITIES[name.toLowerCase()] ?? m);
}

/** Only the very start of a body counts (no m flag): an mbox "From " line or a typical first header. */
const EMBEDDED_HEADERS = /^\s*(?:(?:Return-Path|Received|Delivered-To|Message-Id):|From \S+ +\w{3} \w{3} )/i;

/** Readable text of a (possibly multipart) MIME part: text/plain parts first, else text/html. */
function readableText(part: Part, depth = 0): string {
  const type = (part.headers.get('content-type') ?? 'text/plain').toLowerCase();
  if (type.startsWith('multipart/') && depth < 5) {
    const boundary = /boundary="?([^";]+)"?/i.exec(part.headers.get('content-type') ?? '')?.[1];
    if (!boundary) return '';
    const pieces = part.body.split(`--${boundary}`).slice(1).filter((p) => !p.startsWith('--'));
    const parts = pieces.map((p) => splitPart(p.replace(/^\n/, '')));
    const plain = parts.filter((p) => (p.headers.get('content-type') ?? 'text/plain').toLowerCase().startsWith('text/plain'));
    const chosen = plain.length > 0 ? plain : parts;
    return chosen.map((p) => readableText(p, depth + 1)).join(' ');
  }
  if (type.startsWith('message/rfc822') && depth < 5) return readableText(splitPart(part.body.replace(/^\n+/, '')), depth + 1);
  if (!type.startsWith('text/')) return '';
  // Mailing-list footers name the list (only ham came through lists): drop them.
  const body = decodeBody(part).replace(/\n_{20,}\n[^\n]*mailing list[\s\S]*$/i, '\n');
  // A bounced or forwarded message pasted as the body starts with its own headers.
  if (EMBEDDED_HEADERS.test(body) && depth < 5) return readableText(splitPart(body.replace(/^\s+/, '')), depth + 1);
  return type.startsWith('text/html') || /<html|<body|<br\s*\/?>|<p>/i.test(body) ? htmlToText(body) : body;
}

/** One-line plain text of a raw e-mail ("Subject: ... body"), at most `maxChars` chars (cut at a word). */
export function emailToText(raw: string, maxChars = 600): string {
  const message = splitPart(raw);
  const subject = decodeEncodedWords(message.headers.get('subject') ?? '').trim();
  const text = `Subject: ${subject} ${readableText(message)}`
    .replace(/[\w.+-]+@[\w-]+(\.[\w-]+)+/g, '[email]')
    // Runs of decoration (----, ====, ****) carry no words.
    .replace(/([^\w\s])\1{3,}/g, '$1$1$1')
    .replace(/\s+/g, ' ')
    .trim();
  return chunkText(text, maxChars)[0] ?? '';
}
