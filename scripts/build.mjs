// npm run build (and `prepare`, so `npm install` in the repository builds): the package's JavaScript and declaration
// files in dist/, compiled by tsc from src/ (tsconfig.build.json), with the files src/ opens beside its modules at
// run time (worker scripts, the CommonJS CAS core and its types, the dashboard's stylesheet) copied as they are.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
// a file removed from src/ must not linger in the package
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) {
  rmSync(dist, { recursive: true, force: true });
  console.error('build failed: dist/ removed (bin/grpo.js runs the sources through tsx meanwhile)');
  process.exit(r.status ?? 1);
}
cpSync(path.join(root, 'src'), dist, {
  recursive: true,
  filter: (from) => statSync(from).isDirectory() || !from.endsWith('.ts'),
});
