// Test support only: a minimal parquet writer (one required UTF-8 column, PLAIN, uncompressed,
// one row group) so tests can exercise the hyparquet reader without a writer dependency.
import { writeFileSync } from 'node:fs';

/** Thrift compact-protocol encoder, just the parts parquet metadata needs. */
class Compact {
  bytes: number[] = [];
  private last: number[] = [0];
  private varint(n: bigint): void {
    do { let b = Number(n & 0x7fn); n >>= 7n; if (n > 0n) b |= 0x80; this.bytes.push(b); } while (n > 0n);
  }
  private zigzag(n: number | bigint): void { const v = BigInt(n); this.varint(v >= 0n ? v << 1n : ((-v) << 1n) - 1n); }
  private field(id: number, type: number): void {
    const delta = id - this.last[this.last.length - 1];
    if (delta > 0 && delta <= 15) this.bytes.push((delta << 4) | type); else { this.bytes.push(type); this.zigzag(id); }
    this.last[this.last.length - 1] = id;
  }
  i32(id: number, v: number): this { this.field(id, 5); this.zigzag(v); return this; }
  i64(id: number, v: number): this { this.field(id, 6); this.zigzag(v); return this; }
  str(id: number, s: string): this { this.field(id, 8); const b = Buffer.from(s); this.varint(BigInt(b.length)); this.bytes.push(...b); return this; }
  struct(id: number, body: (c: this) => void): this { this.field(id, 12); this.begin(); body(this); return this.end(); }
  list(id: number, elemType: number, n: number, each: (c: this, i: number) => void): this {
    this.field(id, 9);
    if (n < 15) this.bytes.push((n << 4) | elemType); else { this.bytes.push(0xf0 | elemType); this.varint(BigInt(n)); }
    for (let i = 0; i < n; i++) each(this, i);
    return this;
  }
  begin(): this { this.last.push(0); return this; }
  end(): this { this.bytes.push(0); this.last.pop(); return this; }
  rawZigzag(v: number): this { this.zigzag(v); return this; }
  rawStr(s: string): this { const b = Buffer.from(s); this.varint(BigInt(b.length)); this.bytes.push(...b); return this; }
}

/** Writes `values` as a single required string column named `column`. */
export function writeStringParquet(path: string, column: string, values: string[]): void {
  const data = Buffer.concat(values.map((v) => {
    const b = Buffer.from(v, 'utf8');
    const len = Buffer.alloc(4); len.writeUInt32LE(b.length);
    return Buffer.concat([len, b]);
  }));
  const page = new Compact().begin() // PageHeader
    .i32(1, 0).i32(2, data.length).i32(3, data.length) // DATA_PAGE, sizes
    .struct(5, (c) => c.i32(1, values.length).i32(2, 0).i32(3, 3).i32(4, 3)) // PLAIN, RLE levels
    .end();
  const chunk = Buffer.concat([Buffer.from(page.bytes), data]);
  const meta = new Compact().begin() // FileMetaData
    .i32(1, 1)
    .list(2, 12, 2, (c, i) => {
      c.begin();
      if (i === 0) c.str(4, 'schema').i32(5, 1);
      else c.i32(1, 6).i32(3, 0).str(4, column).i32(6, 0); // BYTE_ARRAY, REQUIRED, UTF8
      c.end();
    })
    .i64(3, values.length)
    .list(4, 12, 1, (c) => {
      c.begin().list(1, 12, 1, (cc) => {
        cc.begin().i64(2, 4).struct(3, (m) => m
          .i32(1, 6).list(2, 5, 1, (x) => x.rawZigzag(0)).list(3, 8, 1, (x) => x.rawStr(column))
          .i32(4, 0).i64(5, values.length).i64(6, chunk.length).i64(7, chunk.length).i64(9, 4)).end();
      }).i64(2, chunk.length).i64(3, values.length).end();
    })
    .end();
  const footer = Buffer.from(meta.bytes);
  const len = Buffer.alloc(4); len.writeUInt32LE(footer.length);
  writeFileSync(path, Buffer.concat([Buffer.from('PAR1'), chunk, footer, len, Buffer.from('PAR1')]));
}
