// commands/accept.ts: `tlsify accept`, the server side (being written).
import type { AcceptConfig } from '../config.ts';
import type { Log } from '../log.ts';

export async function runAccept(_cfg: AcceptConfig, _log: Log): Promise<number> {
  return 70;
}
