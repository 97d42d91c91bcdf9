/**
 * Event files byte for byte as TensorFlow's protobuf and TFRecord writers produce them: the expected bytes are
 * tensorboard_logger's serialization test (wall time 256.5; v/1 = 1.5 at step 1; v/22 = 16 at step 2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeEvent, tfRecord, TensorBoardWriter } from '../../src/trainer/tensorboard.ts';

const bytes = (s: string) => Buffer.from(s, 'latin1');

test('the file-version event and scalar events are the bytes TensorFlow writes', () => {
  assert.deepEqual(
    tfRecord(encodeEvent({ wallTime: 256.5, step: 0, fileVersion: 'brain.Event:2' })),
    bytes('\x18\x00\x00\x00\x00\x00\x00\x00\xa3\x7fK"\t\x00\x00\x00\x00\x00\x08p@\x1a\rbrain.Event:2\xbc\x98!+'),
  );
  assert.deepEqual(
    tfRecord(encodeEvent({ wallTime: 256.5, step: 1, scalars: [['v/1', 1.5]] })),
    bytes(
      '\x19\x00\x00\x00\x00\x00\x00\x00\x8b\xf1\x08(\t\x00\x00\x00\x00\x00\x08p@\x10\x01*\x0c\n\n\n\x03v/1\x15\x00\x00\xc0?,\xec\xc0\x87',
    ),
  );
  assert.deepEqual(
    tfRecord(encodeEvent({ wallTime: 256.5, step: 2, scalars: [['v/22', 16]] })),
    bytes(
      '\x1a\x00\x00\x00\x00\x00\x00\x00\x12\x9b\xd8-\t\x00\x00\x00\x00\x00\x08p@\x10\x02*\r\n\x0b\n\x04v/22\x15\x00\x00\x80A\x8f\xa3\xb6\x88',
    ),
  );
});

test('steps past 127 take multi-byte varints (300 = 0xAC 0x02)', () => {
  const e = encodeEvent({ wallTime: 0, step: 300 });
  assert.deepEqual([...e.subarray(9)], [0x10, 0xac, 0x02]);
});

test('a writer puts the version event first and one event per metrics line with its finite numbers', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'grpo-tb-'));
  try {
    const w = new TensorBoardWriter(dir, 256.5);
    w.write(1, { step: 1, wall_time: 256.5, reward: 1.5, kl: null, note: 'x', bad: NaN }, 256.5);
    const [name] = readdirSync(dir);
    assert.match(name, /^events\.out\.tfevents\.256\./);
    const expected = Buffer.concat([
      tfRecord(encodeEvent({ wallTime: 256.5, step: 0, fileVersion: 'brain.Event:2' })),
      tfRecord(encodeEvent({ wallTime: 256.5, step: 1, scalars: [['reward', 1.5]] })),
    ]);
    assert.deepEqual(readFileSync(path.join(dir, name)), expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
