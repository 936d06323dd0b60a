/** kctl's only window to the terminal: results to stdout, diagnostics to stderr. */
export const out = {
  line(text = ""): void {
    process.stdout.write(`${text}\n`);
  },
  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (process.stdout.write(data)) resolve();
      else process.stdout.once("drain", resolve);
    });
  },
  /** Progress for long work, only on a terminal. */
  progress(text: string): void {
    if (process.stderr.isTTY) process.stderr.write(`${text}\n`);
  },
  /** A hint beside a result that scripts read from stdout. */
  note(text: string): void {
    process.stderr.write(`${text}\n`);
  },
  error(text: string): void {
    process.stderr.write(`error: ${text}\n`);
  },
};
