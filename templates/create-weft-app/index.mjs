#!/usr/bin/env node
// create-weft-app: copies template/ into a new folder, names the app after
// it and writes its relay URL, so that `npm install && npm run dev` starts
// an offline-first todo app on weftdb (template/README.md).
//
//   npm create weft-app my-app [-- --relay ws://localhost:8787] [--weftdb SPEC]
//   node index.mjs my-app --relay URL --weftdb file:/path/to/weftdb-0.1.0.tgz
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const usage = 'usage: create-weft-app DIR [--relay ws://host:port] [--weftdb npm-spec]';
let parsed;
try {
  parsed = parseArgs({ allowPositionals: true, options: { relay: { type: 'string' }, weftdb: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
} catch (e) {
  console.error(`create-weft-app: ${e.message}\n${usage}`);
  process.exit(2);
}
const { values: opt, positionals } = parsed;
if (opt.help || positionals.length !== 1) {
  console.error(usage);
  process.exit(opt.help ? 0 : 2);
}
const dir = resolve(positionals[0]);
if (existsSync(dir) && readdirSync(dir).length) {
  console.error(`create-weft-app: ${dir} exists and is not empty`);
  process.exit(1);
}
if (opt.relay !== undefined && !/^wss?:\/\/[^\s]+$/.test(opt.relay)) {
  console.error(`create-weft-app: --relay takes a ws:// or wss:// URL, not ${opt.relay}`);
  process.exit(2);
}

const template = join(dirname(fileURLToPath(import.meta.url)), 'template');
cpSync(template, dir, { recursive: true, filter: (src) => !/node_modules|[/\\]dist$/.test(src) });
// npm drops .gitignore from packages: the template ships it as _gitignore.
if (existsSync(join(dir, '_gitignore'))) renameSync(join(dir, '_gitignore'), join(dir, '.gitignore'));

const pkgPath = join(dir, 'package.json');
const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
pkg.name = basename(dir).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '') || 'weft-app';
if (opt.weftdb) pkg.dependencies.weftdb = opt.weftdb;
writeFileSync(pkgPath, JSON.stringify(pkg, null, 2) + '\n');
if (opt.relay) writeFileSync(join(dir, '.env.local'), `VITE_WEFT_RELAY=${opt.relay}\n`);

console.log(`Created ${pkg.name} in ${dir}

  cd ${positionals[0]}
  npm install
  npm run dev      # http://localhost:5173

The relay is ${opt.relay ?? 'ws://localhost:8787 (set VITE_WEFT_RELAY in .env.local)'}: see README.md to run weft-relay.`);
