// tls/keylog.ts: --keylog FILE: the NSS key log format (SSLKEYLOGFILE, as Wireshark reads it)
// from node:tls 'keylog' events, appended to a 0600 file. SSLKEYLOGFILE is honoured, but never
// silently: it comes with a warning the caller must show on stderr and the control channel.
import fs from 'node:fs';
import { TlsifyError } from '../codes.ts';
import { assertPrivate } from '../secret.ts';

export interface KeylogTarget {
  readonly path: string;
  readonly source: '--keylog' | 'SSLKEYLOGFILE';
  /** Say this on stderr and as a `warning` event; undefined when --keylog alone asked for it. */
  readonly warning: string | undefined;
}

/** Where key log lines go, if anywhere: --keylog wins over SSLKEYLOGFILE (read from the user's environment). */
export function keylogTarget(flag: string | undefined, env: NodeJS.ProcessEnv): KeylogTarget | undefined {
  const fromEnv = env.SSLKEYLOGFILE || undefined;
  if (flag !== undefined) {
    const warning = fromEnv !== undefined && fromEnv !== flag ? `SSLKEYLOGFILE=${fromEnv} is ignored: --keylog ${flag} takes precedence` : undefined;
    return Object.freeze({ path: flag, source: '--keylog', warning });
  }
  if (fromEnv === undefined) return undefined;
  return Object.freeze({
    path: fromEnv,
    source: 'SSLKEYLOGFILE',
    warning:
      `SSLKEYLOGFILE is set: tlsify is writing the TLS secrets of this connection to ${fromEnv}, and anyone who can read ` +
      'that file can decrypt the traffic. Unset SSLKEYLOGFILE unless you are debugging (--keylog FILE says it explicitly)',
  });
}

/** NSS key log: `LABEL <64 hex client_random> <hex secret>` + LF (facts §5.5). */
const LINE = /^[A-Z][A-Z0-9_]* [0-9a-fA-F]{64} [0-9a-fA-F]{2,256}\n$/;

export function isKeylogLine(line: Buffer | string): boolean {
  return LINE.test(typeof line === 'string' ? line : line.toString('latin1'));
}

export interface KeylogSink {
  readonly path: string;
  /** For socket.on('keylog', sink.write), attached right after tls.connect, before any record arrives. */
  readonly write: (line: Buffer) => void;
  close(): void;
  /** Lines written so far. */
  readonly lines: number;
}

/**
 * Open (create 0600, or append to a file that only we can read) at start, so a bad path is a
 * config error before dialling. A failed write is reported once through onError and ends the
 * key log, never the connection.
 */
export function openKeylog(target: KeylogTarget, onError: (err: TlsifyError) => void): KeylogSink {
  const where = target.source === '--keylog' ? `--keylog ${target.path}` : `SSLKEYLOGFILE=${target.path}`;
  const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = fs.constants;
  let fd: number | undefined;
  try {
    fd = fs.openSync(target.path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o600);
    assertPrivate(fs.fstatSync(fd), where, 'owner-only');
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    if (err instanceof TlsifyError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new TlsifyError('config', `${where}: cannot open it for appending (${code === 'ELOOP' ? 'it is a symbolic link' : (code ?? (err as Error).message)})`);
  }
  let lines = 0;
  const sink = {
    path: target.path,
    get lines() {
      return lines;
    },
    write: (line: Buffer): void => {
      if (fd === undefined || !isKeylogLine(line)) return;
      try {
        // One write per line, O_APPEND: lines from several processes never interleave (< PIPE_BUF).
        fs.writeSync(fd, line);
        lines++;
      } catch (err) {
        sink.close();
        onError(new TlsifyError('local-io', `${where}: writing the key log failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); no more lines are written`));
      }
    },
    close: (): void => {
      if (fd === undefined) return;
      const f = fd;
      fd = undefined;
      fs.closeSync(f);
    },
  };
  return sink;
}
