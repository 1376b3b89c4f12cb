// tack/prompt.ts: read a password from the terminal without echo (what Python's getpass does for
// tackpy). Raw mode on the process's stdin TTY: Enter ends the line, Backspace edits, Ctrl-C and
// Ctrl-D on an empty line abort. The one TACK module that touches the terminal.

/** Thrown when the person at the terminal pressed Ctrl-C, or Ctrl-D on an empty line. */
export class PromptAborted extends Error {
  override name = 'PromptAborted';
}

export function promptSecret(prompt: string, write: (s: string) => void): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.reject(new PromptAborted('stdin is not a terminal'));
  write(prompt);
  return new Promise<string>((resolve, reject) => {
    let line = '';
    const finish = (err: Error | undefined): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(undefined);
        if (ch === '\u0003') return finish(new PromptAborted('interrupted at the password prompt'));
        if (ch === '\u0004') {
          if (line === '') return finish(new PromptAborted('end of input at the password prompt'));
          continue;
        }
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else if (ch >= ' ') line += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
  });
}
