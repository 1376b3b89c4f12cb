// pinstore/location.ts: which file a --pin-store value names (protocol/pin-store.md §2): the
// private default under $XDG_STATE_HOME, a PATH, a shared @NAME, or none. Pure: env is passed in.
import os from 'node:os';
import path from 'node:path';
import { TlsifyError } from '../codes.ts';

export type StoreSpec =
  | { readonly kind: 'default' }
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'none' };

/** Where @NAME stores live unless TLSIFY_PIN_STORES names another absolute directory (§2.1). */
export const SHARED_DIR = '/var/lib/tlsify/pin-stores';

export const STORE_FORMS = 'PATH | @NAME | none (default: $XDG_STATE_HOME/tlsify/pins)';
// No '/' and no leading '.', so @NAME never leaves the shared directory (no '..', no dotfiles).
const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** One --pin-store value. Throws TlsifyError('usage') saying expected and got. */
export function parseStoreSpec(text: string, flag = '--pin-store'): StoreSpec {
  if (text === '') throw new TlsifyError('usage', `${flag}: expected ${STORE_FORMS}, got nothing`);
  if (text === 'none') return Object.freeze({ kind: 'none' });
  if (text.startsWith('@')) {
    const name = text.slice(1);
    if (!NAME.test(name)) throw new TlsifyError('usage', `${flag}: expected @NAME with NAME of [A-Za-z0-9._-] not starting with '.', got '${text}'`);
    return Object.freeze({ kind: 'named', name });
  }
  if (text.includes('\0')) throw new TlsifyError('usage', `${flag}: expected a path, got one with a NUL byte`);
  return Object.freeze({ kind: 'path', path: text });
}

/** As the user would write it; events and `pins list` name stores this way. */
export function describeStoreSpec(spec: StoreSpec): string {
  switch (spec.kind) {
    case 'default':
      return 'default';
    case 'path':
      return spec.path;
    case 'named':
      return `@${spec.name}`;
    case 'none':
      return 'none';
  }
}

export interface StoreLocation {
  readonly file: string;
  readonly dir: string;
  /** The private default: its directories are created 0700, and it must be ours. */
  readonly private: boolean;
  /** Mode of a store file tlsify creates: 0600, or 0660 in the shared directory (§2.1). */
  readonly newFileMode: number;
}

/** The file a spec names; undefined for none. Relative paths are taken from the cwd. */
export function locate(spec: StoreSpec, env: NodeJS.ProcessEnv): StoreLocation | undefined {
  switch (spec.kind) {
    case 'none':
      return undefined;
    case 'default': {
      const file = path.join(stateHome(env), 'tlsify', 'pins');
      return { file, dir: path.dirname(file), private: true, newFileMode: 0o600 };
    }
    case 'path': {
      const file = path.resolve(spec.path);
      return { file, dir: path.dirname(file), private: false, newFileMode: 0o600 };
    }
    case 'named': {
      const dir = absolute(env.TLSIFY_PIN_STORES) ?? SHARED_DIR;
      return { file: path.join(dir, spec.name), dir, private: false, newFileMode: 0o660 };
    }
  }
}

/** XDG Base Directory 0.8: an unset, empty or relative XDG_STATE_HOME means $HOME/.local/state. */
export function stateHome(env: NodeJS.ProcessEnv): string {
  return absolute(env.XDG_STATE_HOME) ?? path.join(absolute(env.HOME) ?? os.homedir(), '.local', 'state');
}

function absolute(p: string | undefined): string | undefined {
  return p && path.isAbsolute(p) ? p : undefined;
}
