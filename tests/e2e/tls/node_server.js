// An HTTPS server on the Node.js `https` module (OpenSSL linked into the node
// binary, TLS through memory BIOs).
// Usage: node node_server.js PORT KEY CERT WWWDIR
// GET serves files of WWWDIR (404 if absent), POST /created answers 201.
// Prints "listening" once it accepts connections.
'use strict';
const https = require('https');
const fs = require('fs');
const path = require('path');

const [port, key, cert, www] = process.argv.slice(2);
const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'https://localhost');
    if (req.method === 'POST' && url.pathname === '/created') {
      const body = 'created ' + Buffer.concat(chunks).length + '\n';
      res.writeHead(201, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const file = path.join(www, path.normalize(url.pathname));
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': 10 });
        res.end('not found\n');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length });
      res.end(data);
    });
  });
});
server.keepAliveTimeout = 30000;
server.listen(Number(port), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => process.exit(0));
