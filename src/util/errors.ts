// One error type for failures a user can act on: the message says what went wrong (naming the file),
// the hint says what to do. The CLI prints both and exits non-zero, without a stack trace.
export class TesseraError extends Error {
  constructor(message: string, public readonly hint?: string) {
    super(message);
    this.name = 'TesseraError';
  }
}
