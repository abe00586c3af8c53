// Test support: the committed JSONL task fixtures (test/fixtures/eval, in the original HellaSwag,
// ARC and MMLU JSONL layouts) rewritten as the Hugging Face hub's parquet layouts of the same
// datasets — Rowan/hellaswag (label a string), allenai/ai2_arc (question a string, choices
// {text[], label[]}), cais/mmlu (answer an int64) — with hyparquet-writer (a dev dependency).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { projectRoot } from '../util/paths.js';

export const FIXTURE_DIR = (): string => join(projectRoot(), 'test', 'fixtures', 'eval');

type Row = Record<string, unknown>;
const rows = (name: string): Row[] => readFileSync(join(FIXTURE_DIR(), name), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Row);

// Parquet schema elements: strings, int64, LIST<string> (3-level, as pyarrow writes it) and structs.
type El = Record<string, unknown>;
const string = (name: string): El[] => [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }];
const int64 = (name: string): El[] => [{ name, type: 'INT64', repetition_type: 'OPTIONAL' }];
const stringList = (name: string): El[] => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
];
const struct = (name: string, fields: El[][]): El[] => [{ name, repetition_type: 'OPTIONAL', num_children: fields.length }, ...fields.flat()];

function write(filename: string, columns: [El[], unknown[]][]): void {
  const schema = [{ name: 'root', num_children: columns.length }, ...columns.flatMap(([el]) => el)];
  const columnData = columns.map(([el, data]) => ({ name: el[0]!.name as string, data }));
  parquetWriteFile({ filename, columnData, schema } as unknown as Parameters<typeof parquetWriteFile>[0]);
}

/** Writes hellaswag.parquet, arc.parquet and mmlu.parquet into `dir`; returns their paths. */
export function writeParquetFixtures(dir: string): { hellaswag: string; arc: string; mmlu: string } {
  const hs = rows('hellaswag.jsonl'), arc = rows('arc_challenge.jsonl'), mm = rows('mmlu.jsonl');
  const col = (rs: Row[], k: string) => rs.map((r) => r[k]);
  const out = { hellaswag: join(dir, 'hellaswag.parquet'), arc: join(dir, 'arc.parquet'), mmlu: join(dir, 'mmlu.parquet') };
  write(out.hellaswag, [
    [int64('ind'), col(hs, 'ind').map((x) => BigInt(x as number))],
    ...['activity_label', 'ctx_a', 'ctx_b', 'ctx'].map((k): [El[], unknown[]] => [string(k), col(hs, k)]),
    [stringList('endings'), col(hs, 'endings')],
    ...['source_id', 'split', 'split_type'].map((k): [El[], unknown[]] => [string(k), col(hs, k)]),
    [string('label'), col(hs, 'label').map(String)], // the hub's Rowan/hellaswag stores the label as a string
  ]);
  write(out.arc, [
    [string('id'), col(arc, 'id')],
    [string('question'), arc.map((r) => (r.question as Row).stem)],
    [struct('choices', [stringList('text'), stringList('label')]),
      arc.map((r) => { const c = (r.question as Row).choices as Row[]; return { text: c.map((x) => x.text), label: c.map((x) => x.label) }; })],
    [string('answerKey'), col(arc, 'answerKey')],
  ]);
  write(out.mmlu, [
    [string('question'), col(mm, 'question')],
    [string('subject'), col(mm, 'subject')],
    [stringList('choices'), col(mm, 'choices')],
    [int64('answer'), col(mm, 'answer').map((x) => BigInt(x as number))],
  ]);
  return out;
}
