// commands/pin-main.ts: `tlsify pin`: pins of files (commands/pin.ts), or of the validated
// chain of a live server (`--connect`, the connect pipeline stopped after its verdict).
import type { PinConfig } from '../config.ts';
import { createLog } from '../log.ts';
import { formatPin, pinFromSpki } from '../trust/pins.ts';
import { runConnect } from './connect.ts';
import { runPin } from './pin.ts';

export async function runPinCommand(cfg: PinConfig, out: (text: string) => void): Promise<number> {
  if (cfg.mode === 'files') {
    return runPin({ files: [...cfg.files], hpkp: cfg.hpkp, backup: [...cfg.backup], maxAge: cfg.maxAge, includeSubDomains: cfg.includeSubDomains }, out);
  }
  let lines = '';
  const status = await runConnect(cfg.connect, createLog(cfg.connect.logLevel), (v) => {
    const last = v.path.length - 1;
    v.path.forEach((cert, depth) => {
      const pin = pinFromSpki(cert.spki);
      const role = depth === 0 ? 'leaf' : depth === last && v.anchor ? 'anchor' : 'intermediate';
      lines += `depth=${depth} ${role} ${formatPin(pin, 'curl')} ${formatPin(pin, 'hpkp')} ${cert.subject}\n`;
    });
  });
  if (status === 0) out(lines);
  return status;
}
