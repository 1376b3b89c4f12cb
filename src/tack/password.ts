// tack/password.ts: where a key file password comes from. tackpy's `-p PASSWORD` (seen by every
// user of `ps`: insecure on shared machines), tlsify's `--pass env:VAR|fd:N|file:PATH` (the forms
// of openssl's -pass; the first line is the password), or a prompt on the terminal.
import { readFileSync } from 'node:fs';
import { OptionError } from './getopt.ts';

export type PasswordSource =
  | { readonly kind: 'argv'; readonly value: string }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'fd'; readonly fd: number }
  | { readonly kind: 'file'; readonly path: string };

export const PASS_FORMS = 'env:VAR, fd:N or file:PATH';

/** Parses a --pass value. Throws OptionError (a usage error) for anything else. */
export function parsePassSpec(spec: string): PasswordSource {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? '' : spec.slice(0, colon);
  const rest = spec.slice(colon + 1);
  if (kind === 'env' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(rest)) return { kind, name: rest };
  if (kind === 'fd' && /^\d{1,9}$/.test(rest)) return { kind, fd: Number(rest) };
  if (kind === 'file' && rest !== '') return { kind, path: rest };
  throw new OptionError(`--pass: expected ${PASS_FORMS}, got '${spec}'`);
}

export function describeSource(src: PasswordSource): string {
  switch (src.kind) {
    case 'argv':
      return '-p';
    case 'env':
      return `--pass env:${src.name}`;
    case 'fd':
      return `--pass fd:${src.fd}`;
    case 'file':
      return `--pass file:${src.path}`;
  }
}

/** The password, or an Error whose message says what was missing or unreadable. */
export function readPassword(src: PasswordSource, env: NodeJS.ProcessEnv): string {
  switch (src.kind) {
    case 'argv':
      return src.value;
    case 'env': {
      const v = env[src.name];
      if (v === undefined) throw new Error(`${describeSource(src)}: expected the variable to be set, got it unset`);
      return v;
    }
    case 'fd':
    case 'file': {
      let text: string;
      try {
        text = readFileSync(src.kind === 'fd' ? src.fd : src.path, 'latin1');
      } catch (err) {
        throw new Error(`${describeSource(src)}: cannot read it: ${(err as Error).message}`);
      }
      return firstLine(text);
    }
  }
}

function firstLine(text: string): string {
  const nl = text.search(/\r?\n/);
  return nl < 0 ? text : text.slice(0, nl);
}
