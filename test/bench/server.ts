// test/bench/server.ts: the benchmark's TLS peer, a node:tls server in its own process (forked
// with IPC), so its CPU is not the harness's and not the client's. Three listeners on 127.0.0.1:
//   reply:    read a request up to an empty line, answer "HTTP/1.0 200 OK ... pong", close;
//   download: send BULK_BYTES (1 MiB writes of one buffer, so the server copies little), close;
//   upload:   read and discard until the client's close_notify, report the count, close.
// Each bulk connection is reported to the parent with the server's own CPU time over its wall
// time: near 100 % of a core would mean the server, not the client, set the pace.
// argv: KEY_FILE CERT_FILE BULK_BYTES; the parent may change the download size with a 'size'
// message. Exits when the parent goes away.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';

export type ServerMessage =
  | { readonly type: 'ready'; readonly ports: { readonly reply: number; readonly download: number; readonly upload: number } }
  | { readonly type: 'bulk'; readonly mode: 'download' | 'upload'; readonly bytes: number; readonly ms: number; readonly cpuMs: number }
  | { readonly type: 'size'; readonly bytes: number }; // the acknowledgement of the parent's 'size'

export type ParentMessage = { readonly type: 'size'; readonly bytes: number };

export const REPLY = 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npong\n';
const CHUNK = 1 << 20;

function main(): void {
  const [keyFile, certFile, bulk] = process.argv.slice(2);
  if (!keyFile || !certFile || !bulk) throw new Error(`server.ts: expected KEY_FILE CERT_FILE BULK_BYTES, got ${process.argv.slice(2).join(' ')}`);
  let bulkBytes = Number(bulk);
  const options: tls.TlsOptions = { key: readFileSync(keyFile), cert: readFileSync(certFile) };
  const payload = Buffer.alloc(CHUNK);
  for (let i = 0; i < CHUNK; i++) payload[i] = (i * 2654435761) >>> 24; // not all zeros; content does not change TLS cost

  const send = (m: ServerMessage): void => {
    process.send?.(m);
  };
  const measure = (mode: 'download' | 'upload') => {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    return (bytes: number): void => {
      const cpu = process.cpuUsage(cpu0);
      send({ type: 'bulk', mode, bytes, ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 });
    };
  };

  const reply = tls.createServer(options, (socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    let request = '';
    socket.on('data', (chunk: Buffer) => {
      request += chunk.toString('latin1');
      if (request.includes('\r\n\r\n') || request.includes('\n\n')) socket.end(REPLY);
    });
  });

  const download = tls.createServer(options, (socket) => {
    socket.on('error', () => {});
    const done = measure('download');
    const total = bulkBytes;
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const n = Math.min(CHUNK, total - sent);
        sent += n;
        if (!socket.write(n === CHUNK ? payload : payload.subarray(0, n))) return void socket.once('drain', pump);
      }
      socket.end(() => done(sent));
    };
    pump();
  });

  const upload = tls.createServer(options, (socket) => {
    socket.on('error', () => {});
    const done = measure('upload');
    let got = 0;
    socket.on('data', (chunk: Buffer) => (got += chunk.length));
    socket.on('end', () => {
      done(got);
      socket.end();
    });
  });

  const servers = [reply, download, upload];
  let listening = 0;
  for (const server of servers) {
    server.listen(0, '127.0.0.1', () => {
      if (++listening < servers.length) return;
      const port = (s: tls.Server): number => (s.address() as AddressInfo).port;
      send({ type: 'ready', ports: { reply: port(reply), download: port(download), upload: port(upload) } });
    });
  }
  process.on('message', (m: ParentMessage) => {
    if (m.type !== 'size') return;
    bulkBytes = m.bytes;
    send({ type: 'size', bytes: bulkBytes });
  });
  process.on('disconnect', () => process.exit(0));
}

// Imported for its types by run.ts; started as a process by fork().
if (require.main === module) main();
