// pinstore/store.ts: a pin store as connect and `tlsify pins` use it (protocol/pin-store.md):
// reads are lock-free (the file is only ever replaced whole); TOFU, HPKP and edits are locked
// read-modify-writes that decide again on what is on disk under the lock.
import fs from 'node:fs';
import { TlsifyError } from '../codes.ts';
import { userEnv } from '../env.ts';
import { modifyStore, readStore } from './file.ts';
import { emptyDoc, type PinEntry, type StoreDoc } from './doc.ts';
import { DEFAULT_MAX_AGE_CAP, decideHpkp, type HpkpInput, type HpkpOutcome } from './hpkp.ts';
import { DEFAULT_STALE_MS, DEFAULT_WAIT_MS } from './lock.ts';
import { describeStoreSpec, locate, type StoreSpec } from './location.ts';
import { decideTofu, lookup, type Scope, type TofuDecision, type TofuMode } from './policy.ts';

export interface PinStoreOptions {
  /** A lock older than this is taken over (default 10 s). */
  readonly staleMs?: number;
  /** A writer waits this long for a live lock (default 20 s). */
  readonly waitMs?: number;
  /**
   * Keep the last read and reuse it while the file's inode, size, mtime and ctime are unchanged
   * (the daemon, which reads the store for every connection). Writes replace the file, so any
   * write, chmod or edit is seen at the next read.
   */
  readonly cacheReads?: boolean;
}

export type HpkpRequest = Omit<HpkpInput, 'maxAgeCap'> & { readonly maxAgeCap?: number };

export interface PinStore {
  /** As the user wrote it: 'default', a path, '@NAME' or 'none'. */
  readonly name: string;
  /** The file; undefined for none. */
  readonly file: string | undefined;
  /** The whole store, read now without a lock. Throws TlsifyError('config') naming file and line. */
  read(): StoreDoc;
  /** The entries that apply to `scope` now (§5.1), for the verdict: pass them to checkStored. */
  entriesFor(scope: Scope, now: Date): PinEntry[];
  /** TOFU after a successful verdict (§6); pathPins are the validated path's pins, leaf first. */
  recordTofu(scope: Scope, pathPins: readonly string[], mode: TofuMode, now: Date): Promise<TofuDecision>;
  /** A Public-Key-Pins(-Report-Only) header for this connection (§7). */
  noteHpkp(request: HpkpRequest): Promise<HpkpOutcome>;
  /** A locked edit: `change` returns the next document, or undefined to leave the file alone. */
  update(change: (doc: StoreDoc) => StoreDoc | undefined): Promise<StoreDoc>;
}

/** What changes whenever the store file is replaced, edited or chmod-ed; lstat, so a symlink differs. */
function statKey(file: string): string {
  try {
    const st = fs.lstatSync(file, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.mode}:${st.uid}`;
  } catch (err) {
    return `absent:${(err as NodeJS.ErrnoException).code}`;
  }
}

/** No I/O happens here: the file is read on first use, so a bad store fails where it is used. */
export function openPinStore(spec: StoreSpec, env: NodeJS.ProcessEnv = userEnv, opts: PinStoreOptions = {}): PinStore {
  const loc = locate(spec, env);
  const name = describeStoreSpec(spec);
  const lockOpts = { staleMs: opts.staleMs ?? DEFAULT_STALE_MS, waitMs: opts.waitMs ?? DEFAULT_WAIT_MS };
  let cached: { key: string; doc: StoreDoc } | undefined;
  const read = (): StoreDoc => {
    if (!loc) return emptyDoc;
    if (!opts.cacheReads) return readStore(loc);
    const key = statKey(loc.file);
    if (cached?.key !== key) cached = { key, doc: readStore(loc) };
    return cached.doc;
  };
  const update = (change: (doc: StoreDoc) => StoreDoc | undefined): Promise<StoreDoc> => {
    if (!loc) return Promise.reject(new TlsifyError('usage', '--pin-store none keeps no pins: learning, noting or editing needs a store'));
    return modifyStore(loc, change, lockOpts);
  };
  /** Decide on an unlocked read; write only when there is something to write, deciding again under the lock. */
  async function decided<D>(decide: (doc: StoreDoc) => { d: D; next: StoreDoc | undefined }): Promise<D> {
    const first = decide(read());
    if (first.next === undefined) return first.d;
    let d = first.d;
    await update((doc) => {
      const again = decide(doc);
      d = again.d;
      return again.next;
    });
    return d;
  }
  return {
    name,
    file: loc?.file,
    read,
    update,
    entriesFor: (scope, now) => lookup(read(), scope, now),
    recordTofu: (scope, pathPins, mode, now) =>
      decided((doc) => {
        const r = decideTofu(doc, scope, pathPins, mode, now);
        return { d: r.decision, next: r.next };
      }),
    noteHpkp: (request) =>
      decided((doc) => {
        const r = decideHpkp(doc, { ...request, maxAgeCap: request.maxAgeCap ?? DEFAULT_MAX_AGE_CAP });
        return { d: r.outcome, next: r.next };
      }),
  };
}
