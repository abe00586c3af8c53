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

/** Writes hellaswag.parquet, arc.parquet and mmlu.parquet into `dir`; returns their paths. */
export function writeParquetFixtures(dir: string): { hellaswag: string; arc: string; mmlu: string } {
  const hs = rows('hellaswag.jsonl'), arc = rows('arc_challenge.jsonl'), mm = rows('mmlu.jsonl');
  const col = (rs: Row[], k: string) => rs.map((r) => r[k]);
  const out = { hellaswag: join(dir, 'hellaswag.parquet'), arc: join(dir, 'arc.parquet'), mmlu: join(dir, 'mmlu.parquet') };
  parquetWriteFile({
    filename: out.hellaswag, columnData: [
      { name: 'ind', data: col(hs, 'ind').map((x) => BigInt(x as number)), type: 'INT64' },
      ...['activity_label', 'ctx_a', 'ctx_b', 'ctx'].map((k) => ({ name: k, data: col(hs, k) as string[], type: 'STRING' as const })),
      { name: 'endings', data: col(hs, 'endings') as string[][] },
      ...['source_id', 'split', 'split_type'].map((k) => ({ name: k, data: col(hs, k) as string[], type: 'STRING' as const })),
      { name: 'label', data: col(hs, 'label').map(String), type: 'STRING' },
    ],
  });
  parquetWriteFile({
    filename: out.arc, columnData: [
      { name: 'id', data: col(arc, 'id') as string[], type: 'STRING' },
      { name: 'question', data: arc.map((r) => (r.question as Row).stem as string), type: 'STRING' },
      { name: 'choices', data: arc.map((r) => { const c = (r.question as Row).choices as Row[]; return { text: c.map((x) => x.text), label: c.map((x) => x.label) }; }) },
      { name: 'answerKey', data: col(arc, 'answerKey') as string[], type: 'STRING' },
    ],
  });
  parquetWriteFile({
    filename: out.mmlu, columnData: [
      { name: 'question', data: col(mm, 'question') as string[], type: 'STRING' },
      { name: 'subject', data: col(mm, 'subject') as string[], type: 'STRING' },
      { name: 'choices', data: col(mm, 'choices') as string[][] },
      { name: 'answer', data: col(mm, 'answer').map((x) => BigInt(x as number)), type: 'INT64' },
    ],
  });
  return out;
}
