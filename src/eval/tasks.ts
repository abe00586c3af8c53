// Multiple-choice tasks as their public datasets ship them, read from JSONL or parquet and turned into
// (context, choices, gold) the way lm-evaluation-harness builds its 0-shot prompts:
//
//   hellaswag  fields activity_label, ctx_a, ctx_b, endings[4], label (Rowan/hellaswag parquet, or
//              the original hellaswag_*.jsonl). Context "<activity_label>: <ctx_a> <Ctx_b>", each
//              ending a choice, after lm-eval's preprocess (" [title]" → ". ", drop "[...]", "  " → " ").
//   arc        fields question, choices {text[], label[]}, answerKey (allenai/ai2_arc parquet), or the
//              original ARC-*.jsonl (question {stem, choices [{text, label}]}, answerKey). Context
//              "Question: <q>\nAnswer:", each choice text a choice.
//   mmlu       fields question, choices[4], answer (0–3, or "A"–"D"), optional subject (cais/mmlu
//              parquet / JSONL). Context: "The following are multiple choice questions (with answers)
//              about <subject>.\n\n<q>\nA. ..\nB. ..\nC. ..\nD. ..\nAnswer:"; the choices are the letters.
//
// Every continuation is scored after the target delimiter " ". A file in none of these layouts is a
// TesseraError naming the file, the fields it has, and the layouts tessera reads.
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { TesseraError } from '../util/errors.js';

export type Layout = 'hellaswag' | 'arc' | 'mmlu';
export const LAYOUTS: readonly Layout[] = ['hellaswag', 'arc', 'mmlu'];

export interface MCExample {
  context: string;
  /** The choices as the dataset gives them; each is scored after the context and the delimiter " ". */
  choices: string[];
  gold: number;
}

export interface MCTask {
  name: string;
  file: string;
  layout: Layout;
  examples: MCExample[];
}

type Row = Record<string, unknown>;
const KNOWN = 'hellaswag (activity_label, ctx_a, ctx_b, endings, label), arc (question, choices {text, label} or question {stem, choices}, answerKey), mmlu (question, choices, answer)';

/** lm-eval's hellaswag preprocess. */
export function hellaswagPreprocess(text: string): string {
  return text.trim().replaceAll(' [title]', '. ').replace(/\[.*?\]/g, '').replaceAll('  ', ' ');
}

/** Python's str.capitalize(): first character upper case, the rest lower case. */
const capitalize = (s: string): string => (s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1).toLowerCase());

/** Which layout a row is in, or null. */
export function detectLayout(r: Row): Layout | null {
  if (Array.isArray(r.endings) && r.label !== undefined && (typeof r.ctx_a === 'string' || typeof r.ctx === 'string')) return 'hellaswag';
  if (r.answerKey !== undefined && (typeof r.question === 'object' || (typeof r.question === 'string' && typeof r.choices === 'object'))) return 'arc';
  if (typeof r.question === 'string' && Array.isArray(r.choices) && r.answer !== undefined) return 'mmlu';
  return null;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''));
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** One row → example; throws a plain Error with what is wrong (the caller names file and row). */
export function toExample(layout: Layout, r: Row): MCExample {
  switch (layout) {
    case 'hellaswag': {
      const ctx = typeof r.ctx_a === 'string' ? `${r.ctx_a} ${capitalize(str(r.ctx_b))}` : str(r.ctx);
      const context = hellaswagPreprocess(`${str(r.activity_label)}: ${ctx}`);
      const choices = list(r.endings).map((e) => hellaswagPreprocess(str(e)));
      return { context, choices, gold: goldIndex(Number(r.label), choices.length) };
    }
    case 'arc': {
      let q: string, texts: unknown[], labels: unknown[];
      if (typeof r.question === 'object' && r.question !== null) { // original AI2 jsonl
        const qo = r.question as Row;
        q = str(qo.stem);
        texts = list(qo.choices).map((c) => (c as Row).text);
        labels = list(qo.choices).map((c) => (c as Row).label);
      } else {
        q = str(r.question);
        const c = (r.choices ?? {}) as Row;
        texts = list(c.text); labels = list(c.label);
      }
      const gold = labels.map(str).indexOf(str(r.answerKey));
      if (gold < 0) throw new Error(`answerKey ${JSON.stringify(r.answerKey)} is not one of the choice labels ${JSON.stringify(labels)}`);
      return { context: `Question: ${q}\nAnswer:`, choices: texts.map(str), gold };
    }
    case 'mmlu': {
      const ch = list(r.choices).map(str);
      const letters = ch.map((_, i) => String.fromCharCode(65 + i));
      const a = r.answer;
      const gold = typeof a === 'string' && /^[A-Z]$/.test(a) ? a.charCodeAt(0) - 65 : goldIndex(Number(a), ch.length);
      const subject = typeof r.subject === 'string' && r.subject ? r.subject.replaceAll('_', ' ') : null;
      const head = subject ? `The following are multiple choice questions (with answers) about ${subject}.\n\n` : '';
      const body = `${str(r.question).trim()}\n${ch.map((c, i) => `${letters[i]}. ${c}`).join('\n')}\nAnswer:`;
      if (gold < 0 || gold >= ch.length) throw new Error(`answer ${JSON.stringify(a)} is not one of ${ch.length} choices`);
      return { context: head + body, choices: letters, gold };
    }
  }
}

function goldIndex(n: number, count: number): number {
  if (!Number.isInteger(n) || n < 0 || n >= count) throw new Error(`label ${n} is not one of ${count} choices`);
  return n;
}

/** The rows of a .jsonl / .json / .parquet file. */
export async function readRows(file: string): Promise<Row[]> {
  const ext = extname(file).toLowerCase();
  const what = `pass a .jsonl or .parquet file in one of the layouts tessera reads: ${KNOWN}`;
  if (ext === '.parquet') {
    try {
      const rows = await parquetReadObjects({ file: await asyncBufferFromFile(file) });
      return rows.map((r) => JSON.parse(JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))) as Row);
    } catch (e) {
      throw new TesseraError(`${file}: cannot read parquet: ${(e as Error).message}`, what);
    }
  }
  if (ext !== '.jsonl' && ext !== '.json') throw new TesseraError(`${file}: unsupported file type "${ext}"`, what);
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw new TesseraError(`cannot read ${file}: ${(e as Error).message}`, what); }
  const trimmed = text.trimStart();
  if (ext === '.json' && trimmed.startsWith('[')) {
    try { return JSON.parse(text) as Row[]; } catch (e) { throw new TesseraError(`${file}: not valid JSON: ${(e as Error).message}`, what); }
  }
  const rows: Row[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try { rows.push(JSON.parse(line) as Row); } catch (e) {
      throw new TesseraError(`${file}: line ${i + 1} is not JSON: ${(e as Error).message}`, what);
    }
  });
  return rows;
}

/** Reads one task file; `name` defaults to the file name without extension. */
export async function readTask(file: string, name?: string): Promise<MCTask> {
  const rows = await readRows(file);
  if (rows.length === 0) throw new TesseraError(`${file} holds no examples`, 'pass a non-empty task file');
  const first = rows[0]!;
  const layout = typeof first === 'object' && first !== null && !Array.isArray(first) ? detectLayout(first) : null;
  if (!layout) {
    const fields = typeof first === 'object' && first !== null ? Object.keys(first).join(', ') : typeof first;
    throw new TesseraError(`${file} is in none of the known task layouts (its first row has fields: ${fields})`,
      `tessera reads ${KNOWN}, as the public datasets ship them; convert the file to one of these`);
  }
  const examples = rows.map((r, i) => {
    try {
      if (detectLayout(r) !== layout) throw new Error(`it is not in the ${layout} layout of the first row`);
      const ex = toExample(layout, r);
      if (ex.choices.length < 2) throw new Error(`it has ${ex.choices.length} choice(s)`);
      return ex;
    } catch (e) {
      throw new TesseraError(`${file}: row ${i + 1}: ${(e as Error).message}`, `fix or drop that row; every row must be a ${layout} example`);
    }
  });
  return { name: name ?? basename(file, extname(file)), file, layout, examples };
}
