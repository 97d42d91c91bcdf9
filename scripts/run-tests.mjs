// Runs every *.test.ts under the given folder with Node's built-in test runner through tsx.
// (Node 20's --test does not expand globs itself.)
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = process.argv[2] ?? 'test';
const extra = process.argv.slice(3);
function walk(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
    });
}
if (!existsSync(root)) {
  console.error(`no test folder '${root}'`);
  process.exit(1);
}
const files = walk(root);
if (files.length === 0) {
  console.error(`no *.test.ts files under '${root}'`);
  process.exit(1);
}
// the default suites run on the CPU whatever GPU build is installed; the device suite on $GRPO_DEVICE (vulkan)
const env = { ...process.env, GRPO_DEVICE: process.env.GRPO_DEVICE ?? (root === 'test-device' ? 'vulkan' : 'cpu') };
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...extra, ...files], {
  stdio: 'inherit',
  env,
});
process.exit(r.status ?? 1);
