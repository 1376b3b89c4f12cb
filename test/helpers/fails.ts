// helpers/fails.ts: assert that `fn` throws a TlsifyError with this code and a matching message.
import assert from 'node:assert/strict';
import { TlsifyError } from '../../src/codes.ts';

export function fails(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TlsifyError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}
