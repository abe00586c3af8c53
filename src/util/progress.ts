// Live progress: on a terminal one line rewritten in place (throttled); elsewhere a line at most
// every few seconds, so logs stay readable. Permanent lines go above the live one.

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export class Progress {
  private last = 0;
  private live = '';
  private shown = '';
  private readonly tty = Boolean(process.stdout.isTTY);

  constructor(private readonly log: (s: string) => void = console.log, private readonly everyMs = 5000) {}

  update(text: string): void {
    this.live = text;
    const now = Date.now();
    if (this.tty) {
      if (now - this.last < 100) return;
      process.stdout.write(`\r\x1b[2K${text}`);
    } else {
      if (now - this.last < this.everyMs) return;
      this.log(text);
      this.shown = text;
    }
    this.last = now;
  }

  line(text: string): void {
    if (this.tty) process.stdout.write(`\r\x1b[2K${text}\n${this.live}`);
    else this.log(text);
  }

  done(): void {
    if (this.tty && this.live) process.stdout.write(`\r\x1b[2K${this.live}\n`);
    else if (this.live && this.live !== this.shown) this.log(this.live);
    this.live = '';
  }
}
