// test/bench/bridge.cjs: the minimal Node TLS bridge, the floor for any Node helper: tls.connect,
// stdin -> socket, socket -> stdout, Nagle off; exits when the peer closes. No checks beyond
// node:tls's own (the CA file and the name). Plain CommonJS, nothing to transpile or resolve.
// argv: HOST PORT CA_FILE SERVERNAME
'use strict';
const fs = require('node:fs');
const tls = require('node:tls');

const [host, port, caFile, servername] = process.argv.slice(2);
const socket = tls.connect({ host, port: Number(port), ca: fs.readFileSync(caFile), servername }, () => {
  socket.setNoDelay(true); // else the request after the handshake waits ~40 ms for a delayed ACK
  process.stdin.pipe(socket);
});
socket.pipe(process.stdout);
process.stdout.on('finish', () => process.exit(0)); // stdin may still be open: do not wait for it
socket.on('error', (err) => {
  process.stderr.write(`bridge: ${err.message}\n`);
  process.exit(1);
});
