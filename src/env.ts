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
