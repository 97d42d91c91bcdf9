/** `grpo arena` and `grpo dashboard` refuse bad flags in one line, before any training starts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const grpo = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
  });

test('unknown methods, bad seeds and bad ports are one line each', () => {
  for (const [args, message] of [
    [
      ['arena', '--config', 'configs/demo.yaml', '--methods', 'grpo,grpp'],
      /^grpo: --methods: unknown method 'grpp'; choose from grpo, dr_grpo, .*gvpo\n$/,
    ],
    [
      ['arena', '--config', 'configs/demo.yaml', '--methods', 'grpo', '--seeds', '1.5'],
      /^grpo: --seeds takes a whole number ≥ 1, got '1\.5'\n$/,
    ],
    [
      ['arena', '--config', 'configs/demo.yaml', '--methods', 'grpo', '--target', '80'],
      /^grpo: --target takes an accuracy between 0 and 1, got '80'\n$/,
    ],
    [['dashboard', '--port', 'abc'], /^grpo: --port takes a port number 0–65535 \(0: any free port\), got 'abc'\n$/],
  ] as const) {
    const r = grpo(...args);
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, message);
  }
});
