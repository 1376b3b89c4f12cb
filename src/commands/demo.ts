// commands/demo.ts: placeholder until written below.
import type { Log } from '../log.ts';
export async function runDemo(_log: Log): Promise<number> { return 70; }
