// What @kubernetes/client-node imports from undici (Agent, ProxyAgent, fetch), without the rest of undici's index
// (mock agents, caches, WebSocket, EventSource, cookies, interceptors, the request() API on dispatchers), which
// client-node never uses.
// Wired in by scripts/build.mjs for imports of `undici` from client-node only.
'use strict';

const Agent = require('undici/lib/dispatcher/agent');
const ProxyAgent = require('undici/lib/dispatcher/proxy-agent');
const { fetch } = require('undici/lib/web/fetch');

module.exports = { Agent, ProxyAgent, fetch };
