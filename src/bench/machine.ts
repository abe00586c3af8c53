// What a recorded benchmark result must say about where it ran: date, CPU, cores, Node.
import { cpus, totalmem } from 'node:os';

export function machineLine(): string {
  const c = cpus();
  return `${new Date().toISOString().slice(0, 10)}, ${c[0]?.model ?? 'unknown CPU'} × ${c.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}
