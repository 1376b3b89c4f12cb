// test/helpers/pinstore-writer.ts: a real process that uses a pin store, for the race and
// crash tests (test/e2e/pinstore-race.test.ts). Run: node --import tsx test/helpers/pinstore-writer.ts
//   record STORE HOST   on "go" + LF on stdin (all writers start together), learn HOST:443 by TOFU;
//                       prints the decision
//   churn STORE PREFIX  add PREFIX-0, PREFIX-1, ... one locked write each, for ever, printing
//                       each number once it is on disk (the test kills it with SIGKILL)
//   count STORE         print the number of entries (a malformed store exits 3 with the message)
// PINSTORE_STALE_MS sets the stale-lock timeout.
import { createHash } from 'node:crypto';
import { TlsifyError, exitStatus } from '../../src/codes.ts';
import { entriesOf, pinFromText, upsert, type PinEntry } from '../../src/pinstore/doc.ts';
import { openPinStore } from '../../src/pinstore/store.ts';

const [mode, file, arg] = process.argv.slice(2);
const staleMs = process.env.PINSTORE_STALE_MS ? Number(process.env.PINSTORE_STALE_MS) : undefined;
const store = openPinStore({ kind: 'path', path: file! }, process.env, { staleMs });

function pinOf(text: string): string {
  return 'sha256/' + createHash('sha256').update(text).digest('base64');
}

function staticEntry(host: string): PinEntry {
  return {
    host,
    port: 443,
    service: undefined,
    source: 'static',
    pins: [pinFromText(pinOf(host))],
    mode: 'enforce',
    includeSubDomains: false,
    firstSeen: new Date(Math.floor(Date.now() / 1000) * 1000),
    lastSeen: undefined,
    activeUntil: undefined,
    expires: undefined,
    reportUri: undefined,
    tackId: undefined,
    minGeneration: undefined,
    extra: [],
  };
}

async function main(): Promise<void> {
  switch (mode) {
    case 'record': {
      await new Promise<void>((resolve) => {
        process.stdout.write('ready\n');
        process.stdin.once('data', () => resolve());
      });
      const d = await store.recordTofu({ host: arg!, port: 443 }, [pinOf(arg!), pinOf('anchor')], 'learn', new Date());
      process.stdout.write(`${d.kind}\n`);
      process.exit(0);
      break;
    }
    case 'churn':
      for (let i = 0; ; i++) {
        await store.update((doc) => upsert(doc, staticEntry(`${arg}-${i}.example`)));
        process.stdout.write(`${i}\n`);
      }
    case 'count':
      process.stdout.write(`${entriesOf(store.read()).length}\n`);
      return;
    default:
      throw new Error(`pinstore-writer: expected record, churn or count, got '${mode}'`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(err instanceof TlsifyError ? exitStatus(err.code) : 70);
});
