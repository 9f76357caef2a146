// SPDX-License-Identifier: MIT
// The GraphQL server of tests/e2e/test_graphql_server.py: graphql-js with
// graphql-http's handlers (the GraphQL-over-HTTP spec), served over HTTP/1.1
// (node:http) on the first port and cleartext HTTP/2 (node:http2, prior
// knowledge) on the second. Prints "ready" once both listen.
//
//   node server.js PORT_H1 PORT_H2
'use strict';
const http = require('node:http');
const http2 = require('node:http2');
const { buildSchema } = require('graphql');
const { createHandler: h1Handler } = require('graphql-http/lib/use/http');
const { createHandler: h2Handler } = require('graphql-http/lib/use/http2');

const schema = buildSchema(`
  type User { id: ID!, name: String }
  type Query { user(id: ID!): User, viewer: User, hello(name: String): String, boom: String }
  type Mutation { addUser(name: String!): User }
`);

const users = { 1: { id: '1', name: 'Ada' }, 2: { id: '2', name: 'Grace' } };
let next = 3;
const rootValue = {
  user: ({ id }) => users[id] || null,
  viewer: () => users[1],
  hello: ({ name }) => 'hello ' + (name || 'world'),
  boom: () => {
    throw new Error('kaboom');
  },
  addUser: ({ name }) => {
    const u = { id: String(next++), name };
    users[u.id] = u;
    return u;
  },
};

const [p1, p2] = process.argv.slice(2).map(Number);
const s1 = http.createServer(h1Handler({ schema, rootValue }));
const s2 = http2.createServer(h2Handler({ schema, rootValue }));
let up = 0;
const ready = () => {
  if (++up === 2)
    process.stdout.write('ready\n');
};
s1.listen(p1, '127.0.0.1', ready);
s2.listen(p2, '127.0.0.1', ready);
