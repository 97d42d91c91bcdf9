// npm run install:vulkan | install:cuda — adds a GPU build of the same pinned ggml into gpu/ (beside node_modules,
// so a later `npm install` does not prune it). grpo-ts then loads it instead of the CPU build (it carries the same
// CPU backends); `grpo doctor` lists the devices it finds. Vulkan also needs the Vulkan loader (Debian:
// libvulkan1) and the GPU's driver; Mesa's software device (mesa-vulkan-drivers, GGML_VK_VISIBLE_DEVICES=0)
// runs it without a GPU, slowly — for tests. Remove gpu/ to go back to the CPU build.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const kind = process.argv[2];
const packages = { vulkan: ['linux-x64-vulkan'], cuda: ['linux-x64-cuda', 'linux-x64-cuda-ext'] };
if (!packages[kind]) {
  console.error('usage: node scripts/install-gpu.mjs vulkan|cuda');
  process.exit(2);
}
if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`the ${kind} build is packaged for linux-x64 here; this is ${process.platform}-${process.arch}`);
  process.exit(1);
}
const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).dependencies[
  '@node-llama-cpp/linux-x64'
];
const dir = path.join(root, 'gpu');
mkdirSync(dir, { recursive: true });
if (!existsSync(path.join(dir, 'package.json')))
  writeFileSync(
    path.join(dir, 'package.json'),
    '{ "private": true, "description": "GPU builds of ggml for grpo-ts (npm run install:vulkan / install:cuda)" }\n',
  );
const specs = packages[kind].map((p) => `@node-llama-cpp/${p}@${version}`);
console.log(`installing ${specs.join(' ')} into gpu/ …`);
execFileSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--save-exact', ...specs], {
  stdio: 'inherit',
});
if (kind === 'vulkan' && !['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/libvulkan.so.1'].some(existsSync)) {
  console.log(
    'note: the Vulkan loader (libvulkan.so.1) was not found; on Debian/Ubuntu: apt-get install libvulkan1 (and mesa-vulkan-drivers for the software device)',
  );
}
console.log('done: run `npx grpo doctor` (or `npx tsx src/cli/main.ts doctor`) to see the devices');
