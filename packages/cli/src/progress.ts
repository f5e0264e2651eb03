/** Progress lines for long CLI steps: a spinner-free bar on a TTY, plain lines otherwise. */
export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  constructor(private readonly label: string) {}

  update(fraction: number, note = ""): void {
    if (!this.tty) return;
    const width = 30;
    const done = Math.max(0, Math.min(width, Math.round(fraction * width)));
    process.stderr.write(`\r${this.label} [${"#".repeat(done)}${".".repeat(width - done)}] ${Math.round(fraction * 100)}% ${note}   `);
  }

  done(note = "done"): void {
    if (this.tty) process.stderr.write(`\r${this.label} [${"#".repeat(30)}] 100% ${note}   \n`);
    else process.stderr.write(`${this.label}: ${note}\n`);
  }
}

export function step(msg: string): void {
  process.stderr.write(`vela: ${msg}\n`);
}
