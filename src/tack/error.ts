// tack/error.ts: the one error type of the pure TACK modules; the command turns it into a TlsifyError.

/**
 * Input that is not a valid TACK object. `kind` separates a wrong password (the key file's MAC
 * does not match) from everything else, so a prompt can ask again. Messages say expected / got.
 */
export class TackError extends Error {
  override name = 'TackError';
  readonly kind: 'format' | 'password';
  constructor(message: string, kind: 'format' | 'password' = 'format') {
    super(message);
    this.kind = kind;
  }
}
