import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  runPythonAssertTests,
  runPythonIoTests,
  runPython,
  pythonIsolation,
  parseVerdicts,
} from '../../src/rewards/code/python.ts';

// The Python reward needs a python3; on a machine without one these tests are skipped, not failed.
const noPython = spawnSync('python3', ['--version']).status !== 0 ? 'python3 is not installed' : false;

const FAST = { timeoutMs: 3000, testTimeoutMs: 1000 };

test('passing and failing assert tests are counted per test', { skip: noPython }, async () => {
  const r = await runPythonAssertTests(
    'def double(x):\n    return 2 * x\n',
    ['assert double(2) == 4', 'assert double(3) == 5', 'assert double(0) == 0'],
    FAST,
  );
  assert.deepEqual(r.results, [true, false, true]);
  assert.equal(r.passed, 2);
  assert.equal(r.total, 3);
});

test('stdlib that inspects frames (typing, namedtuple, dataclasses) works in the sandbox', {
  skip: noPython,
}, async () => {
  const code =
    'from typing import List, TypeVar\nfrom collections import namedtuple\nfrom dataclasses import dataclass\nT = TypeVar("T")\nP = namedtuple("P", "x y")\n@dataclass\nclass D:\n    a: int\ndef f(xs: List[int]) -> int:\n    return sum(xs) + P(1, 2).x + D(3).a\n';
  const r = await runPythonAssertTests(code, ['assert f([1, 2]) == 7'], FAST);
  assert.equal(r.passed, 1, r.stderr);
});

test('code that fails to compile fails every test', { skip: noPython }, async () => {
  const r = await runPythonAssertTests('def f(:\n', ['assert True'], FAST);
  assert.equal(r.passed, 0);
  assert.equal(r.codeError, 'SyntaxError');
});

test('stdin/stdout tests compare output, ignoring trailing whitespace', { skip: noPython }, async () => {
  const r = await runPythonIoTests(
    'a, b = map(int, input().split())\nprint(a + b)\n',
    [
      { input: '1 2\n', output: '3\n' },
      { input: '2 2', output: '5' },
      { input: '5 5', output: '10  \n\n' },
    ],
    FAST,
  );
  assert.deepEqual(r.results, [true, false, true]);
});

test('printing fake verdicts does not pass tests (results travel on a nonce-tagged side channel)', {
  skip: noPython,
}, async () => {
  const r = await runPythonAssertTests(
    "import os\nfor i in range(3):\n    print(f'x {i} pass')\n    os.write(3, f'x {i} pass\\n'.encode())\n",
    ['assert False'],
    FAST,
  );
  assert.equal(r.passed, 0);
});

test('the verdict cannot be forged: frame walking, fake lines, patched builtins, early exits', {
  skip: noPython,
}, async (t) => {
  // each hack runs at import time, before a test that a correct f would pass and this f fails
  const hacks: [string, string][] = [
    [
      'walking frames for the nonce',
      [
        'import sys, os, re',
        'found = set()',
        'try:',
        '    f = sys._getframe()',
        '    while f is not None:',
        '        for v in list(f.f_locals.values()):',
        '            if isinstance(v, str) and re.fullmatch("[0-9a-f]{32}", v): found.add(v)',
        '        f = f.f_back',
        'except Exception:',
        '    pass',
        'try:',
        '    1 / 0',
        'except ZeroDivisionError as e:',
        '    try:',
        '        tb = e.__traceback__',
        '        while tb is not None:',
        '            fr = tb.tb_frame',
        '            for v in list(fr.f_locals.values()):',
        '                if isinstance(v, str) and re.fullmatch("[0-9a-f]{32}", v): found.add(v)',
        '            tb = tb.tb_next',
        '    except Exception:',
        '        pass',
        'for n in found:',
        '    for i in range(4): os.write(3, f"{n} {i} pass\\n".encode())',
        'os._exit(0)',
      ].join('\n'),
    ],
    [
      'replaced builtins',
      'import builtins\nbuiltins.exec = lambda *a, **k: None\nbuiltins.map = lambda f, xs: [None]\nbuiltins.len = lambda x: 0\n',
    ],
    ['sys.exit at import', 'import sys\nsys.exit(0)\n'],
    ['a swallowing unraisablehook', 'import sys\nsys.unraisablehook = lambda u: None\n'],
    [
      'threads that outlive the code',
      'import threading, os\ndef spam():\n    while True:\n        os.write(3, b"x 0 pass\\n")\nthreading.Thread(target=spam, daemon=True).start()\n',
    ],
  ];
  for (const [name, hack] of hacks) {
    await t.test(name, async () => {
      const r = await runPythonAssertTests(
        `${hack}\ndef f(x):\n    return 0\n`,
        ['assert f(1) == 1', 'assert f(2) == 2'],
        FAST,
      );
      assert.equal(r.passed, 0, `${name}: ${JSON.stringify(r.results)} ${r.stderr.slice(-300)}`);
    });
  }
  // the same harness still passes honest code after a harmless import-time thread
  const honest = await runPythonAssertTests(
    'import threading\nthreading.Thread(target=lambda: None).start()\ndef f(x):\n    return x\n',
    ['assert f(1) == 1', 'assert f(2) == 3'],
    FAST,
  );
  assert.deepEqual(honest.results, [true, false]);
});

test('exit in a solution ends its run at once, with what it printed (not at the time limit)', {
  skip: noPython,
}, async (t) => {
  // the wall-time limit is far above what an exiting program takes: a run that reaches it has waited for nothing
  const limits = { timeoutMs: 6000, testTimeoutMs: 10_000 };
  const exits = ['sys.exit(0)', 'exit()', 'raise SystemExit(2)', 'os._exit(0)'];
  for (const exit of exits) {
    await t.test(`${exit} at import`, async () => {
      const r = await runPythonAssertTests(
        `import sys, os\nprint('before the exit')\n${exit}\ndef f(x):\n    return x\n`,
        ['assert f(1) == 1'],
        limits,
      );
      assert.equal(r.timedOut, false, `${exit} waited for the time limit`);
      assert.equal(r.passed, 0);
      assert.equal(r.stdout, 'before the exit\n');
      if (exit !== 'os._exit(0)') assert.equal(r.codeError, 'SystemExit');
    });
    await t.test(`${exit} inside a test`, async () => {
      const r = await runPythonAssertTests(
        `import sys, os\ndef f(x):\n    ${exit}\n`,
        ['assert f(1) is None', 'assert True'],
        limits,
      );
      assert.equal(r.timedOut, false, `${exit} waited for the time limit`);
      assert.equal(r.results[0], false);
    });
  }
  // a test that exits fails at once and the next one still runs
  const r = await runPythonAssertTests('import sys\ndef f(x):\n    sys.exit(x)\n', ['f(0)', 'assert True'], limits);
  assert.deepEqual(r.results, [false, true]);
  assert.equal(r.timedOut, false);
  // one run of a program: every kind of exit keeps what it printed and its exit status
  for (const [exit, status] of [
    ['sys.exit(3)', 3],
    ['exit(3)', 3],
    ['raise SystemExit(3)', 3],
    ['os._exit(3)', 3],
    ['sys.exit()', 0],
  ] as const) {
    const run = await runPython(`import sys, os\nprint('partial')\n${exit}\nprint('after')\n`, '', limits);
    assert.deepEqual([run.stdout, run.exitCode, run.timedOut], ['partial\n', status, false], exit);
  }
});

test("an error in a program is reported exception first, then its own frames, never the sandbox's", {
  skip: noPython,
}, async () => {
  const r = await runPython('def f(x):\n    return 1 / x\n\nprint("hi")\nf(0)\n', '', FAST);
  assert.equal(r.exitCode, 1);
  assert.equal(r.stdout, 'hi\n');
  assert.equal(
    r.stderr,
    [
      'ZeroDivisionError: division by zero',
      'Traceback (most recent call last):',
      '  File "solution.py", line 5, in <module>',
      '    f(0)',
      '  File "solution.py", line 2, in f',
      '    return 1 / x',
      '',
    ].join('\n'),
  );
  const syntax = await runPython('x = (\n', '', FAST);
  assert.match(syntax.stderr, /^SyntaxError: .*\n {2}File "solution.py", line 1\n/);
  assert.doesNotMatch(syntax.stderr + r.stderr, /harness|exec\(|_main/);
  // a deep recursion is reported in a few lines, its repeats folded as Python folds them
  const deep = await runPython('def f(n):\n    return f(n + 1)\nf(0)\n', '', FAST);
  assert.match(deep.stderr, /^RecursionError: maximum recursion depth exceeded/);
  assert.match(deep.stderr, /\[Previous line repeated \d+ more times\]/);
  assert.ok(deep.stderr.length < 600, deep.stderr);
});

test("a program cannot reach the sandbox's own state through frames and switch its checks off", {
  skip: noPython,
}, async () => {
  const code = [
    'import sys',
    'f, touched = sys._getframe(1), []',
    'while f is not None:',
    '    for name, value in list(f.f_locals.items()):',
    '        if isinstance(value, set):',
    '            value.clear(); touched.append(name)',
    '        for cell in getattr(value, "__closure__", None) or ():',
    '            try:',
    '                if isinstance(cell.cell_contents, (set, tuple)):',
    '                    cell.cell_contents = type(cell.cell_contents)(); touched.append(name)',
    '            except Exception:',
    '                pass',
    '    f = f.f_back',
    'print(touched)',
    'import _posixsubprocess',
    'print("imported")',
  ].join('\n');
  const r = await runPython(code, '', FAST);
  assert.doesNotMatch(r.stdout, /imported/, r.stdout + r.stderr);
  assert.match(r.stderr, /PermissionError: sandbox: importing _posixsubprocess is not allowed/);
});

test('without a network namespace the python reward refuses to run model code unless weak isolation is allowed, and then warns', {
  skip: noPython,
}, () => {
  const real = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout.trim();
  const path = process.env.PATH;
  // a PATH where python runs but unshare and setpriv cannot be found
  process.env.PATH = '/nonexistent';
  try {
    assert.throws(() => pythonIsolation(real, false), /no network namespace .*GRPO_ALLOW_WEAK_SANDBOX=1/);
    const warnings: string[] = [];
    const error = console.error;
    console.error = (line: string) => {
      warnings.push(line);
    };
    try {
      assert.equal(pythonIsolation(real, true).network, 'audit-hook only');
    } finally {
      console.error = error;
    }
    assert.match(warnings.join('\n'), /WARNING: .*WITHOUT a network namespace/);
  } finally {
    process.env.PATH = path;
  }
});

test('escapes fail and the host survives', { skip: noPython }, async (t) => {
  const marker = join(tmpdir(), `grpo-escape-${randomBytes(6).toString('hex')}`);
  const cases: [string, string][] = [
    ['memory bomb', 'x = bytearray(8 * 1024 ** 3)\n'],
    ['file write outside the sandbox', `open(${JSON.stringify(marker)}, 'w').write('escaped')\n`],
    ['os.open write outside', `import os\nos.open(${JSON.stringify(marker)}, os.O_CREAT | os.O_WRONLY)\n`],
    ['subprocess', `import subprocess\nsubprocess.run(['touch', ${JSON.stringify(marker)}])\n`],
    ['os.system', `import os\nos.system('touch ${marker}')\n`],
    ['fork', 'import os\nos.fork()\n'],
    ['ctypes', 'import ctypes\nctypes.CDLL(None)\n'],
    ['/proc/self/mem', "open('/proc/self/mem', 'rb')\n"],
    [
      'adding a permissive audit hook, then writing',
      `import sys\nsys.addaudithook(lambda *a: None)\nopen(${JSON.stringify(marker)}, 'w').write('x')\n`,
    ],
    ['/proc through a relative path', "open('../../../../../../proc/self/environ', 'rb').read()\n"],
    ['listing /proc', "import os\nos.listdir('/proc/1')\n"],
    ['a fifo outside the sandbox', `import os\nos.mkfifo(${JSON.stringify(marker)})\n`],
    [
      'a device node outside the sandbox',
      `import os, stat\nos.mknod(${JSON.stringify(marker)}, 0o600 | stat.S_IFREG)\n`,
    ],
    ['posix.mkfifo directly', `import posix\nposix.mkfifo(${JSON.stringify(marker)})\n`],
    [
      '_posixsubprocess.fork_exec',
      `import _posixsubprocess\n_posixsubprocess.fork_exec(['/usr/bin/touch', ${JSON.stringify(marker)}], [b'/usr/bin/touch'], True, (), None, None, -1, -1, -1, -1, -1, -1, -1, -1, False, False, None, None, None, -1, None, False)\n`,
    ],
  ];
  for (const [name, code] of cases) {
    await t.test(name, async () => {
      const r = await runPythonAssertTests(code, ['assert True'], FAST);
      assert.equal(r.passed, 0, `${name} must not reach the tests`);
      assert.equal(existsSync(marker), false, `${name} wrote ${marker}`);
    });
  }
  rmSync(marker, { force: true });
});

test('the infinite loop is killed at the wall-clock limit', { skip: noPython }, async () => {
  const start = Date.now();
  const r = await runPythonAssertTests('while True:\n    pass\n', ['assert True'], { timeoutMs: 500 });
  assert.equal(r.timedOut, true);
  assert.ok(Date.now() - start < 4000, `took ${Date.now() - start} ms`);
});

test('an output flood is cut at the cap', { skip: noPython }, async () => {
  const r = await runPythonAssertTests("while True:\n    print('x' * 10000)\n", ['assert True'], {
    ...FAST,
    outputBytes: 64 * 1024,
  });
  assert.equal(r.outputTruncated, true);
  assert.ok(r.stdout.length <= 64 * 1024);
  assert.equal(r.passed, 0);
});

test('no network: a connection to a listening 127.0.0.1 port fails and the server sees nothing', {
  skip: noPython,
}, async () => {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const code = `import socket\ns = socket.create_connection(('127.0.0.1', ${port}), timeout=1)\n`;
    const r = await runPythonAssertTests(code, ['assert True'], FAST);
    assert.equal(r.passed, 0);
    assert.equal(connections, 0);
  } finally {
    server.close();
  }
  const isolation = pythonIsolation();
  assert.ok(['namespace', 'audit-hook only'].includes(isolation.network));
});

test('writes inside the sandbox directory work and the directory is removed afterwards', {
  skip: noPython,
}, async () => {
  const code = "import os\nopen('scratch.txt', 'w').write('hi')\nWHERE = os.getcwd()\n";
  const r = await runPythonAssertTests(
    code,
    ["assert open('scratch.txt').read() == 'hi'", "print(WHERE)\nassert WHERE.startswith('/')"],
    FAST,
  );
  assert.equal(r.passed, 2);
  const where = r.stdout.trim();
  assert.ok(where.includes('grpo-py-'), where);
  assert.equal(existsSync(where), false);
});

test('verdict lines: exactly one nonce-tagged pass passes a test; a second line for it, or a fail, fails it', () => {
  const n = 'abc123';
  const text = [
    `${n} 0 pass`,
    `${n} 1 pass`,
    `${n} 1 fail`,
    `${n} 2 fail`,
    `${n} 2 pass`,
    `x 3 pass`,
    `${n} 4 pass`,
    `${n} 4 pass`,
    `${n} 9 pass`,
    `${n} 5 fail`,
    `${n} code ZeroDivisionError`,
  ].join('\n');
  const { results, codeError } = parseVerdicts(text, n, 6);
  assert.deepEqual(results, [true, false, false, false, false, false]);
  assert.equal(codeError, 'ZeroDivisionError');
});
