// commands/verify.ts: `tlsify verify`: the connect verdict, offline, on a PEM chain (leaf
// first), at `--at` or now. Prints the control lines connect would send; same exit codes.
import fs from 'node:fs';
import { TlsifyError, asTlsifyError, exitStatus } from '../codes.ts';
import type { VerifyConfig } from '../config.ts';
import { formatLine, type Fields } from '../control/frame.ts';
import type { Log } from '../log.ts';
import { pemBlocks } from '../trust/pem.ts';
import { loadPolicy } from '../trust/load.ts';
import { verifyPeer } from '../trust/verify.ts';
import { verdictEvents } from './events.ts';

export function runVerify(cfg: VerifyConfig, log: Log, out: (text: string) => void): number {
  const say = (name: string, fields: Fields = {}): void => out(formatLine(name, fields));
  try {
    const chain = readChain(cfg.chainFile);
    const lp = loadPolicy(cfg.policy, log);
    const now = cfg.at ?? new Date();
    say('trust', { set: lp.anchors.name, anchors: lp.anchors.size, at: now.toISOString() });
    const verified = verifyPeer(lp, { chain, openssl: undefined, ocspStaple: cfg.policy.ocsp === 'off' ? undefined : null }, now, say);
    for (const [name, fields] of verdictEvents(verified, cfg.policy)) say(name, fields);
    say('end', { code: 'ok', exit: 0, message: 'the chain passes the policy' });
    return 0;
  } catch (err) {
    const e = asTlsifyError(err);
    say('end', { code: e.code, exit: exitStatus(e.code), message: e.message });
    return exitStatus(e.code);
  }
}

function readChain(file: string): Buffer[] {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'latin1');
  } catch (err) {
    throw new TlsifyError('config', `--chain ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let blocks;
  try {
    blocks = pemBlocks(text).filter((b) => b.label === 'CERTIFICATE');
  } catch (err) {
    throw new TlsifyError('config', `--chain ${file}: ${(err as Error).message}`);
  }
  if (blocks.length === 0) throw new TlsifyError('config', `--chain ${file}: expected PEM certificates, leaf first; found none`);
  return blocks.map((b) => b.der);
}
