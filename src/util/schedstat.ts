// The kernel's run-queue accounting for the calling thread (/proc/thread-self/schedstat: ns on a
// CPU, ns runnable but waiting for one, timeslices). Used where a link is shaped outside this
// process (tc in network namespaces): the time a waiting stage spent woken but without a CPU is
// then read from the kernel instead of being inferred from a modelled delivery time.
import { readFileSync } from 'node:fs';

export interface SchedStat { cpuNs: number; waitNs: number; slices: number }

/** Parses a schedstat line ("cpu_ns wait_ns slices"); null when it is not one. */
export function parseSchedstat(text: string): SchedStat | null {
  const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s*$/.exec(text);
  return m ? { cpuNs: Number(m[1]), waitNs: Number(m[2]), slices: Number(m[3]) } : null;
}

/** ms this thread has spent runnable but waiting for a CPU since it started; null where the kernel does not say (not Linux, no schedstat). */
export function runQueueMs(): number | null {
  try {
    const s = parseSchedstat(readFileSync('/proc/thread-self/schedstat', 'utf8'));
    return s ? s.waitNs / 1e6 : null;
  } catch {
    return null;
  }
}
