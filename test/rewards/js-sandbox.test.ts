import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runJavaScriptTests, shutdownJavaScriptSandbox } from '../../src/rewards/code/javascript.ts';

after(() => shutdownJavaScriptSandbox());

test('assertion tests pass and fail per test; assert/assertEqual are provided', async () => {
  const r = await runJavaScriptTests('function add(a, b) { return a + b; }', [
    'assert(add(1, 2) === 3)',
    'assertEqual(add(1, 1), 3)',
    'assertEqual([add(1, 1)], [2])',
  ]);
  assert.deepEqual(r.results, [true, false, true]);
  assert.equal(r.passed, 2);
});

test('the code cannot neutralise the assertions by redefining them', async () => {
  const r = await runJavaScriptTests('globalThis.assert = () => {}; var assertEqual = () => {};', [
    'assert(false)',
    'assertEqual(1, 2)',
  ]);
  assert.equal(r.passed, 0);
});

test('reward hacks of the assertions fail: frozen or shadowed names, patched intrinsics, caught failures', async () => {
  const hacks: [string, string][] = [
    [
      'frozen globals',
      "Object.defineProperty(globalThis, 'assert', { value: () => {}, writable: false, configurable: false }); Object.defineProperty(globalThis, 'assertEqual', { value: () => {}, writable: false, configurable: false });",
    ],
    ['lexical shadowing', 'let assert = () => {}; let assertEqual = () => {};'],
    ['patched Object.keys', 'Object.keys = () => [];'],
    [
      'patched call and hasOwnProperty',
      'Function.prototype.call = () => true; Object.prototype.hasOwnProperty = () => true; Array.isArray = () => true;',
    ],
    ['patched Array.prototype.every', 'Array.prototype.every = () => true;'],
  ];
  for (const [label, hack] of hacks) {
    const r = await runJavaScriptTests(`function f() { return { a: 1 }; }\n${hack}`, [
      'assert(false)',
      'assertEqual(f(), { a: 2 })',
      'assertEqual([1], [2])',
      'assertEqual(f(), { a: 1 })',
    ]);
    assert.deepEqual(r.results, [false, false, false, true], label);
  }
  // a test that catches its own failed assertion still fails: the failure is recorded outside the VM
  const caught = await runJavaScriptTests('const g = () => 1;', ['try { assertEqual(g(), 2); } catch (e) {}']);
  assert.deepEqual(caught.results, [false]);
});

test('console output is captured', async () => {
  const r = await runJavaScriptTests('console.log("hello", 42)', []);
  assert.equal(r.stdout, 'hello 42\n');
});

test('escapes fail and the host survives', async (t) => {
  const cases: [string, string, string][] = [
    ['process', 'process.exit(1)', 'process'],
    ['require', 'require("fs").writeFileSync("/tmp/grpo-js-escape", "x")', 'require'],
    ['fetch', 'fetch("http://127.0.0.1:1")', 'fetch'],
    ['Function constructor reaching the host', 'Function("return process")().exit(1)', 'process'],
  ];
  for (const [name, code, missing] of cases) {
    await t.test(name, async () => {
      const r = await runJavaScriptTests(code, ['assert(true)'], { timeoutMs: 1000 });
      assert.equal(r.passed, 0);
      assert.match(r.codeError ?? '', new RegExp(`'${missing}' is not defined`));
    });
  }
  await t.test('dynamic import gives no module', async () => {
    const code =
      'var got = "pending"; import("fs").then((m) => { got = typeof m.writeFileSync; }, () => { got = "rejected"; });';
    const r = await runJavaScriptTests(code, ['assert(got !== "function")']);
    assert.equal(r.passed, 1);
  });
  await t.test('memory bomb hits the heap limit', async () => {
    const r = await runJavaScriptTests('let s = "x"; while (true) s += s;', ['assert(true)'], {
      memoryBytes: 16 * 1024 * 1024,
    });
    assert.equal(r.passed, 0);
    assert.match(r.codeError ?? '', /out of memory|string too long/);
  });
  await t.test('deep recursion hits the stack limit', async () => {
    const r = await runJavaScriptTests('function f() { return f(); } f();', ['assert(true)']);
    assert.equal(r.passed, 0);
    assert.match(r.codeError ?? '', /stack/i);
  });
});

test('an infinite loop is interrupted at the deadline', async () => {
  const start = Date.now();
  const r = await runJavaScriptTests('while (true) {}', ['assert(true)'], { timeoutMs: 300 });
  assert.equal(r.passed, 0);
  assert.equal(r.timedOut, true);
  assert.ok(Date.now() - start < 3000, `took ${Date.now() - start} ms`);
});

test('a loop of long native calls is stopped by terminating the worker, and the next job runs', async () => {
  // QuickJS checks interrupts only between bytecode branches, so this can outlive the cooperative
  // deadline; the hard deadline (timeout + grace) terminates the worker thread.
  const start = Date.now();
  const r = await runJavaScriptTests('while (true) { "x".repeat(1e6).split(""); }', ['assert(true)'], {
    timeoutMs: 300,
    graceMs: 200,
    memoryBytes: 512 * 1024 * 1024,
  });
  assert.equal(r.passed, 0);
  assert.equal(r.timedOut, true);
  assert.ok(Date.now() - start < 5000, `took ${Date.now() - start} ms`);
  const next = await runJavaScriptTests('const ok = 1;', ['assert(ok === 1)']);
  assert.equal(next.passed, 1);
});
