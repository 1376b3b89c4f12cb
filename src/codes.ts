// codes.ts: the one table of outcomes. Exit status, control-channel code name, README and
// protocol/control.md all come from here (the docs tables are checked against it by a test).

export const codes = {
  ok: { exit: 0, summary: 'success: the peer closed with close_notify, or the command finished' },
  usage: { exit: 2, summary: 'bad command line: unknown flag, bad value, missing argument' },
  config: { exit: 3, summary: 'a file or setting could not be read or is invalid (e.g. --ca FILE)' },
  resolve: { exit: 4, summary: 'the host name could not be resolved' },
  connect: { exit: 5, summary: 'the TCP connection could not be made (refused, unreachable, --net-fd not a socket)' },
  timeout: { exit: 6, summary: 'connecting or the handshake took longer than its timeout' },
  tls: { exit: 7, summary: 'TLS handshake or protocol failure, including an alert from the peer' },
  untrusted: { exit: 8, summary: 'no acceptable path from the peer certificate to a trusted anchor' },
  'name-mismatch': { exit: 9, summary: 'the certificate does not carry the identity that was asked for' },
  expired: { exit: 10, summary: 'a certificate on the path is expired or not yet valid' },
  'pin-mismatch': { exit: 11, summary: 'no SPKI on the validated path matches a configured pin' },
  truncated: { exit: 12, summary: 'the peer stream ended without close_notify (TCP EOF or reset)' },
  aborted: { exit: 13, summary: 'stopped by the parent: the abort command, or SIGINT/SIGTERM/SIGHUP' },
  'local-io': { exit: 14, summary: 'local I/O failed: stdout closed by the parent (EPIPE), stdin unreadable' },
  revoked: { exit: 15, summary: 'a certificate on the path is revoked (CRL or OCSP), or a required staple is missing' },
  rejected: { exit: 16, summary: 'the parent rejected the peer, or did not answer in time (--hold)' },
  internal: { exit: 70, summary: 'a bug in tlsify: please report it with the log' },
} as const satisfies Record<string, { exit: number; summary: string }>;

export type Code = keyof typeof codes;

/** Codes of `error` replies to the parent's control lines (protocol/control.md §5); not outcomes. */
export const replyCodes = {
  'unknown-command': 'the command name is not one tlsify knows',
  'unknown-field': 'the command carries a field it does not take',
  'bad-line': 'the line does not follow the grammar',
  'line-too-long': 'the line is longer than 4096 bytes; it was skipped',
  'not-holding': 'accept or reject came when no --hold verdict was pending',
  'not-ready': 'the command needs a verified connection: send it after ready',
  'store-error': 'the pin store could not be read or written; the connection goes on',
  'not-allowed': 'the daemon was not started with the option the command needs (--pin-writes)',
} as const;

export type ReplyCode = keyof typeof replyCodes;

export function exitStatus(code: Code): number {
  return codes[code].exit;
}

/** An expected failure: carries its code; the message says what was expected, what came, where. */
export class TlsifyError extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'TlsifyError';
  }
}

/** Anything thrown that is not a TlsifyError is a bug: report it as `internal`. */
export function asTlsifyError(err: unknown): TlsifyError {
  if (err instanceof TlsifyError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TlsifyError('internal', message, { cause: err });
}
