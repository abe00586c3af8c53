// Option parsers shared by the subcommands: bad numbers are rejected with a message naming the option.
import { InvalidArgumentError } from 'commander';

/** Commander option parsers that reject bad numbers with a clear message. */
export function int(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min} (got "${v}")`);
    return n;
  };
}
export function float(name: string, min = -Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`${name} must be a number ≥ ${min} (got "${v}")`);
    return n;
  };
}
