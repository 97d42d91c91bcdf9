#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, the tarball installed into an empty "type": "module" project, and
# there (a) plain node imports the library, (b) a strict TypeScript consumer type-checks against the shipped
# declarations, (c) the files the library opens beside its modules at run time resolve (CAS worker, JavaScript
# sandbox, dashboard client), (d) `npx grpo train` runs a short config on the embedded model, with a reward that a
# TypeScript plugin the config names registers.
# Downloads nothing beyond the npm registry (the tarball's dependencies, as `npm install` brings them); the
# consumer's TypeScript and Node types are the repository's.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/grpo-package-XXXXXX")
trap 'rm -rf "$work"' EXIT

npm pack --pack-destination "$work" --loglevel warn >/dev/null # runs `prepare`: the build
tarball=$(ls "$work"/grpo-ts-*.tgz)
echo "package: $(basename "$tarball"), $(du -k "$tarball" | cut -f1) kB, $(tar -tzf "$tarball" | wc -l) files"
if tar -tzf "$tarball" | grep -E '^package/(src|test|test-[a-z]+|bench|scripts|docs|examples|\.ci)/'; then
  echo "the tarball holds files users do not need (above)" >&2
  exit 1
fi

mkdir "$work/app"
cd "$work/app"
echo '{ "name": "grpo-ts-consumer", "private": true, "type": "module" }' >package.json
npm install --no-audit --no-fund --loglevel warn "$tarball"

# (a) plain Node, no TypeScript loader
node -e "
import('grpo-ts').then((m) => {
  for (const name of ['train', 'registerReward', 'loadTrainConfig'])
    if (typeof m[name] !== 'function') throw new Error('grpo-ts does not export ' + name);
  console.log('(a) plain node imports grpo-ts: ' + Object.keys(m).length + ' exports');
});"

# (b) a strict TypeScript consumer (nodenext), its library files checked too
cat >consumer.ts <<'TS'
import { type TrainConfig, type TrainResult, loadTrainConfig, registerReward, train } from 'grpo-ts';
import { z } from 'zod';

registerReward({
  name: 'short',
  description: 'completions of at most `limit` characters score 1',
  options: z.object({ limit: z.number().default(40) }),
  build: (o) => ({ fn: (completion: string) => (completion.length <= o.limit ? 1 : 0) }),
});

export async function run(file: string): Promise<number> {
  const config: TrainConfig = loadTrainConfig(file, ['--training.steps', '1']);
  const steps: number = config.training.steps;
  const r: TrainResult = await train(config, { quiet: true });
  return r.steps + steps;
}
TS
cat >tsconfig.json <<JSON
{
  "compilerOptions": {
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "target": "es2022",
    "strict": true,
    "noEmit": true,
    "skipLibCheck": false,
    "typeRoots": ["$repo/node_modules/@types"],
    "types": ["node"]
  },
  "files": ["consumer.ts"]
}
JSON
node "$repo/node_modules/typescript/bin/tsc" -p .
echo "(b) a strict TypeScript consumer type-checks"

# (c) the files src/ reads beside its modules, from the compiled package
cat >assets.mjs <<'JS'
import { answersEquivalent, runJavaScriptTests, shutdownJavaScriptSandbox, shutdownSymbolicWorker, startDashboard } from 'grpo-ts';
if (!answersEquivalent('(x+1)^2', 'x^2+2*x+1')) throw new Error('the CAS worker did not compare');
const js = await runJavaScriptTests('function f() { return 1; }', ['if (f() !== 1) throw new Error("f")']);
if (js.passed !== 1) throw new Error(`the JavaScript sandbox: ${JSON.stringify(js)}`);
const d = await startDashboard({ runsDir: 'runs', port: 0, host: '127.0.0.1' });
const page = await (await fetch(d.url)).text();
await d.close();
shutdownSymbolicWorker();
shutdownJavaScriptSandbox();
if (!page.includes('<script type="module">')) throw new Error('the dashboard page has no client script');
console.log(`(c) CAS worker, JavaScript sandbox and dashboard page (${page.length} bytes) work from the package`);
JS
node assets.mjs

# (d) the bin, on a short run of the embedded model, with a reward a TypeScript plugin registers (loaded through tsx)
mkdir rewards
cat >rewards/brevity.ts <<'TS'
import { registerReward } from 'grpo-ts';
import { z } from 'zod';

registerReward({
  name: 'brevity',
  description: 'shorter completions score higher',
  options: z.object({ limit: z.number().default(41) }),
  build: (o) => ({ fn: (completion: string): number => Math.max(0, 1 - completion.length / o.limit) }),
});
TS
cat >short.yaml <<'YAML'
name: short
plugins: [./rewards/brevity.ts]
model: { path: embedded }
data: { train: 'embedded:addition', eval: 'embedded:addition', eval_size: 16 }
rollout: { prompts_per_step: 4, group_size: 4, max_tokens: 41 }
rewards: [{ type: math }, { type: format, weight: 0.1 }, { type: brevity, weight: 0.1 }]
training: { steps: 2, micro_batch_groups: 4, log_completions_every: 0 }
YAML
npx --no-install grpo train --config short.yaml | tee train.log
grep -q '^accuracy_before=.* accuracy_after=' train.log
test "$(wc -l <runs/short/metrics.jsonl)" -eq 2
grep -q '"rewards/brevity/mean":' runs/short/metrics.jsonl
test -f runs/short/final/model.safetensors
echo "(d) npx grpo train ran 2 steps from the installed package, with a TypeScript plugin's reward"
