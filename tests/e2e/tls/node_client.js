// An HTTPS client on the Node.js `https` module: requests, one after the
// other, on one kept-alive connection (certificate not verified).
// Usage: node node_client.js PORT [--wait] REQ...
// REQ is "/path" (GET) or "POST:/path" (POST with a small body). With --wait
// it prints "ready" and starts only after a line arrives on stdin.
// Prints "STATUS BODYSIZE" per request; exits 0 when all were answered.
'use strict';
const https = require('https');
const readline = require('readline');

let args = process.argv.slice(2);
const port = Number(args.shift());
const wait = args[0] === '--wait';
if (wait) args.shift();
const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });

function one(spec) {
  return new Promise((resolve, reject) => {
    const post = spec.startsWith('POST:');
    const p = post ? spec.slice(5) : spec;
    const body = post ? 'node=1&x=2' : null;
    const req = https.request({
      host: '127.0.0.1', port, path: p, method: post ? 'POST' : 'GET', agent,
      rejectUnauthorized: false, servername: 'localhost',
      headers: post ? { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': body.length } : {},
    }, (res) => {
      let n = 0;
      res.on('data', (c) => { n += c.length; });
      res.on('end', () => { console.log(res.statusCode + ' ' + n); resolve(); });
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

async function run() {
  for (const spec of args) await one(spec);
  agent.destroy();
}

function go() {
  run().then(() => process.exit(0), (e) => { console.error(String(e)); process.exit(1); });
}

if (wait) {
  console.log('ready');
  const rl = readline.createInterface({ input: process.stdin });
  rl.once('line', () => { rl.close(); go(); });
} else {
  go();
}
