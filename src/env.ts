// env.ts: the environment as the user gave it, and the one OpenSSL sees inside this process.
// Node 20 builds its default root store on the first TLS context even when `ca` is given, which
// tlsify never uses (~20 ms of start-up). bin/tlsify starts Node with --use-openssl-ca, so that
// store is OpenSSL's default paths; pointing them at nothing here makes it empty and free.
// tlsify's own `system` CA set reads SSL_CERT_FILE / SSL_CERT_DIR from `userEnv`.

/** The environment before tlsify changed anything: for CA sets and for child processes. */
export const userEnv: NodeJS.ProcessEnv = Object.freeze({ ...process.env });

/** Call once, before the first TLS context is made. */
export function emptyOpensslDefaults(): void {
  if (!process.execArgv.includes('--use-openssl-ca')) return;
  process.env.SSL_CERT_FILE = '/dev/null';
  process.env.SSL_CERT_DIR = '/dev/null';
}

/**
 * For the `system` set alone, let OpenSSL verify against the system store natively instead of
 * parsing every root into `ca` (~20 ms). The distribution's bundle file and hashed directory are
 * made together from the same roots (update-ca-certificates, update-ca-trust), so OpenSSL gets
 * the directory alone, looked up lazily by subject hash; a bundle named by SSL_CERT_FILE, or one
 * with no hashed directory beside it, is read as well. Must run before the first TLS context.
 * Returns false when this cannot be done (tlsify started without its launcher's
 * --use-openssl-ca): the caller then passes `ca` as for any other set.
 */
export function opensslUsesSystemStore(paths: { file: string | undefined; dir: string | undefined }): boolean {
  if (!process.execArgv.includes('--use-openssl-ca')) return false;
  const readFile = paths.file !== undefined && (paths.dir === undefined || userEnv.SSL_CERT_FILE !== undefined);
  process.env.SSL_CERT_FILE = readFile ? paths.file : '/dev/null';
  process.env.SSL_CERT_DIR = paths.dir ?? '/dev/null';
  return true;
}
