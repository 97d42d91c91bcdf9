// Worker thread hosting the QuickJS (WebAssembly) sandbox for javascript.ts. Plain JavaScript so it
// loads without a TypeScript loader. Each job gets a fresh QuickJS runtime with a memory limit, a
// stack limit and an interrupt deadline; the context has only ECMAScript built-ins plus a captured
// console — no process, require, import, fs, fetch or timers. The main thread also terminates this
// worker at a hard deadline, because QuickJS checks interrupts only every few thousand branches and
// a long native call (Array.prototype.fill on a huge array) can run past the cooperative deadline.
import { parentPort } from 'node:worker_threads';
import { newQuickJSWASMModuleFromVariant, shouldInterruptAfterDeadline } from 'quickjs-emscripten-core';
import variant from '@jitl/quickjs-wasmfile-release-sync';

const quickjs = await newQuickJSWASMModuleFromVariant(variant);
const MAX_CONSOLE_CHARS = 64 * 1024;

// The assertions are made before the model's code runs, from intrinsics captured then, and are never put on
// globalThis: each test is wrapped as `(function (assert, assertEqual) { … })` and called with them,
// so code that redefines globals, freezes names, shadows them with `let`, or replaces Object.keys or
// Function.prototype.call cannot change a verdict. A failed assertion is recorded on the host (`fail`) as well
// as thrown, so catching it inside the VM does not help either.
const ASSERTIONS = `(function (fail) {
  "use strict";
  const keys = Object.keys, isArray = Array.isArray, hasOwn = Function.prototype.call.bind(Object.prototype.hasOwnProperty);
  const same = (a, b) => {
    if (a === b) return true;
    if (typeof a === 'number' && typeof b === 'number') return a !== a && b !== b;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    if (isArray(a) !== isArray(b)) return false;
    const ka = keys(a), kb = keys(b);
    if (ka.length !== kb.length) return false;
    for (let i = 0; i < ka.length; i++) if (!hasOwn(b, ka[i]) || !same(a[ka[i]], b[ka[i]])) return false;
    return true;
  };
  const assert = function assert(cond, message) { if (!cond) { fail(); throw 'assertion failed' + (message ? ': ' + message : ''); } };
  const assertEqual = function assertEqual(actual, expected) { if (!same(actual, expected)) { fail(); throw 'assertEqual failed'; } };
  return [assert, assertEqual];
})`;

function runJob(job) {
  const deadline = Date.now() + job.timeoutMs;
  const runtime = quickjs.newRuntime();
  runtime.setMemoryLimit(job.memoryBytes);
  runtime.setMaxStackSize(job.stackBytes);
  runtime.setInterruptHandler(shouldInterruptAfterDeadline(deadline));
  const context = runtime.newContext();
  const handles = [];
  const keep = (h) => {
    handles.push(h);
    return h;
  };
  let consoleText = '';
  const log = context.newFunction('log', (...args) => {
    if (consoleText.length < MAX_CONSOLE_CHARS) {
      consoleText +=
        args
          .map((h) => String(context.dump(h)))
          .join(' ')
          .slice(0, MAX_CONSOLE_CHARS) + '\n';
    }
  });
  const consoleObject = context.newObject();
  context.setProp(consoleObject, 'log', log);
  context.setProp(context.global, 'console', consoleObject);
  log.dispose();
  consoleObject.dispose();

  const errorText = (handle) => {
    const error = context.dump(handle);
    handle.dispose();
    return typeof error === 'object' && error ? `${error.name}: ${error.message}` : String(error);
  };
  // Settle promise jobs (async tests) without giving them unbounded time: the deadline still applies.
  const settle = () => {
    const pending = runtime.executePendingJobs(10_000);
    if (pending.error) {
      pending.error.dispose();
      return { ok: false, error: 'pending job failed' };
    }
    return { ok: true };
  };
  const evaluate = (source, filename) => {
    const result = context.evalCode(source, filename);
    if (result.error) return { ok: false, error: errorText(result.error) };
    return { ok: true, value: keep(result.value) };
  };

  let failed = false;
  const fail = keep(
    context.newFunction('fail', () => {
      failed = true;
    }),
  );
  const results = job.tests.map(() => false);
  let codeError;
  try {
    const made = evaluate(ASSERTIONS, 'assertions.js');
    const pair = keep(context.callFunction(made.value, context.undefined, fail).unwrap());
    const assert = keep(context.getProp(pair, 0)),
      assertEqual = keep(context.getProp(pair, 1));
    const code = evaluate(job.code, 'solution.js');
    const settled = code.ok ? settle() : code;
    if (!settled.ok) codeError = settled.error;
    else {
      job.tests.forEach((test, i) => {
        if (Date.now() >= deadline) return;
        const fn = evaluate(`(function (assert, assertEqual) {\n${test}\n})`, `test_${i}.js`);
        if (!fn.ok) return;
        failed = false;
        const called = context.callFunction(fn.value, context.undefined, assert, assertEqual);
        if (called.error) {
          called.error.dispose();
          return;
        }
        keep(called.value);
        results[i] = settle().ok && !failed;
      });
    }
  } finally {
    for (const h of handles) if (h.alive) h.dispose();
    context.dispose();
    runtime.dispose();
  }
  return { results, codeError, console: consoleText, timedOut: Date.now() >= deadline };
}

parentPort.on('message', (job) => {
  let reply;
  try {
    reply = { id: job.id, ...runJob(job) };
  } catch (e) {
    reply = {
      id: job.id,
      results: job.tests.map(() => false),
      codeError: `sandbox error: ${e?.message}`,
      console: '',
      timedOut: false,
    };
  }
  parentPort.postMessage(reply);
});
parentPort.postMessage({ ready: true });
