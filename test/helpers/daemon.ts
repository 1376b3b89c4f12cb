// helpers/daemon.ts: a real `tlsify daemon` on a temporary unix socket and Node clients of it,
// for the daemon's e2e tests.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TLSIFY, parseControl, testStateHome, type ControlLine } from './tlsify.ts';

export interface Daemon {
  readonly child: ChildProcess;
  readonly sock: string;
  readonly exited: Promise<{ status: number | null; stderr: string }>;
}

/** Starts a daemon on DIR/NAME.sock and waits for its `listening` line. */
export async function startDaemon(dir: string, env: NodeJS.ProcessEnv, name: string, args: readonly string[] = []): Promise<Daemon> {
  const sock = path.join(dir, `${name}.sock`);
  const child = spawn(TLSIFY, ['daemon', '--listen', sock, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ status: number | null; stderr: string }>((resolve) => child.on('close', (status) => resolve({ status, stderr })));
  const ready = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()).includes('\n') && resolve(out));
    child.on('close', () => resolve(out));
  });
  assert.equal(ready, `listening ${sock}\n`, `daemon did not start: ${stderr}`);
  return { child, sock, exited };
}

export interface Client {
  readonly sock: net.Socket;
  /** Lines up to `data` or `end`. */
  readonly lines: Promise<ControlLine[]>;
  /** Plaintext after `data`, to EOF. */
  readonly plaintext: Promise<Buffer>;
}

/** A Node client of the daemon socket: the request line now, then whatever the test writes. */
export function client(sockPath: string, request: string | Buffer | undefined): Client {
  const sock = net.connect(sockPath);
  sock.on('error', () => {});
  if (request !== undefined) sock.write(request);
  let text = Buffer.alloc(0);
  let resolveLines!: (l: ControlLine[]) => void;
  const lines = new Promise<ControlLine[]>((r) => (resolveLines = r));
  const plain: Buffer[] = [];
  let inData = false;
  const parsed: ControlLine[] = [];
  sock.on('data', (c: Buffer) => {
    if (inData) return void plain.push(c);
    text = Buffer.concat([text, c]);
    let lf: number;
    while (!inData && (lf = text.indexOf(10)) >= 0) {
      const line = parseControl(text.subarray(0, lf).toString());
      text = text.subarray(lf + 1);
      parsed.push(line);
      if (line.name === 'data' || line.name === 'end') {
        inData = line.name === 'data';
        if (inData && text.length) plain.push(text);
        resolveLines(parsed);
      }
    }
  });
  const plaintext = new Promise<Buffer>((r) => sock.on('close', () => (resolveLines(parsed), r(Buffer.concat(plain)))));
  return { sock, lines, plaintext };
}

/** Run a client program without blocking this process: the TLS peers live here. */
export function run(file: string, args: readonly string[], timeout = 8000): Promise<{ error: Error | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => execFile(file, args, { encoding: 'utf8', timeout }, (error, stdout, stderr) => resolve({ error, stdout, stderr })));
}

export const names = (lines: readonly ControlLine[]): string[] => lines.map((l) => l.name);
export const last = (lines: readonly ControlLine[]): ControlLine => lines[lines.length - 1]!;


/** Run a program with `input` on its stdin, without blocking this process (the peers live here). */
export function runWithInput(file: string, args: readonly string[], input: string, timeout = 10_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin!.on('error', () => {});
    child.stdin!.end(input);
  });
}

/**
 * A private directory for daemon sockets (ours and 0700: the daemon checks; short, for unix
 * socket paths), and an env whose XDG_CONFIG_HOME holds ca-sets/test.pem (`--ca-set @test`).
 */
export function daemonHome(prefix: string, caFile: string): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const config = path.join(dir, 'config');
  fs.mkdirSync(path.join(config, 'tlsify', 'ca-sets'), { recursive: true });
  fs.copyFileSync(caFile, path.join(config, 'tlsify', 'ca-sets', 'test.pem'));
  return { dir, env: { ...process.env, XDG_CONFIG_HOME: config, XDG_STATE_HOME: testStateHome() } };
}

/** SIGTERM, and wait for the daemon to exit. */
export async function stopDaemon(d: Daemon): Promise<void> {
  d.child.kill('SIGTERM');
  await d.exited;
}
