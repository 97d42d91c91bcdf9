#!/usr/bin/env node
// The `grpo` command: the compiled package (dist/), which needs no TypeScript loader. In a checkout of the repository
// whose dist/ is missing or older than a file of src/ (not built yet, or edited since `npm run build`), the
// sources run instead, through tsx in this process (so signals reach the command's handlers as they would in dist).
import { existsSync, readdirSync, statSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const sources = new URL('../src/', import.meta.url);

/** The newest modification time of a file under dir (a URL ending in '/'). */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const url = new URL(e.name + (e.isDirectory() ? '/' : ''), dir);
    t = Math.max(t, e.isDirectory() ? newest(url) : statSync(url).mtimeMs);
  }
  return t;
}

const fromSources = existsSync(sources) && (!existsSync(compiled) || newest(sources) > statSync(compiled).mtimeMs);
if (fromSources) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('cli/main.ts', sources).href);
} else if (existsSync(compiled)) await import(compiled.href);
else {
  console.error('grpo: dist/ is missing from this installation of grpo-ts; reinstall the package');
  process.exit(1);
}
