// GPT-2 byte-level plumbing: the bytes↔unicode table (so every byte is a printable vocab char)
// and the GPT-2 pre-tokenization regex. Shared by training, encoding and tokenizer.json I/O.

/** The GPT-2 pre-tokenizer pattern (as in openai/gpt-2 encoder.py and HF ByteLevel use_regex). */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** A fresh global regex (lastIndex is per-instance state, so never share one across callers). */
export function gpt2Regex(): RegExp {
  return new RegExp(GPT2_PATTERN, 'gu');
}

/**
 * GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
 * U+0100.. in byte order, so byte-level tokens are readable strings in vocab/merges files.
 */
function buildTables(): { byteToChar: string[]; charToByte: Map<string, number> } {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) { bs.push(b); cs.push(256 + n); n++; }
  }
  const byteToChar: string[] = new Array(256);
  const charToByte = new Map<string, number>();
  bs.forEach((b, i) => { byteToChar[b] = String.fromCharCode(cs[i]); charToByte.set(byteToChar[b], b); });
  return { byteToChar, charToByte };
}

export const { byteToChar: BYTE_TO_CHAR, charToByte: CHAR_TO_BYTE } = buildTables();

const encoder = new TextEncoder();

/** UTF-8 bytes of `s` rendered in the byte-level alphabet (one char per byte). */
export function toByteLevel(s: string): string {
  const bytes = encoder.encode(s);
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_CHAR[bytes[i]];
  return out;
}
