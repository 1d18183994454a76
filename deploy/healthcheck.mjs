#!/usr/bin/env node
// Container health probe (Docker HEALTHCHECK, compose): exit 0 when /health answers 200, else 1.
// Plain JavaScript on purpose: it runs with bare `node`, without tsx or node_modules, and the
// slim images carry no curl. HEALTHCHECK_URL overrides; otherwise loopback on $PORT. An https URL
// skips certificate checks because it only ever talks to its own container's loopback.
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';

const url = process.env.HEALTHCHECK_URL || `http://127.0.0.1:${process.env.PORT || 8000}/health`;
const timeoutMs = Number(process.env.HEALTHCHECK_TIMEOUT_MS || 2500);
const get = url.startsWith('https:') ? httpsGet : httpGet;

const req = get(url, { timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
  res.resume();
  process.exitCode = res.statusCode === 200 ? 0 : 1;
  if (res.statusCode !== 200) console.error(`health: ${url} answered ${res.statusCode}`);
});
req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
req.on('error', (err) => {
  console.error(`health: ${url}: ${err.message}`);
  process.exitCode = 1;
});
