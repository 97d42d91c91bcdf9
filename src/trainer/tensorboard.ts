/**
 * TensorBoard event files (`training.report_to: tensorboard`), so `tensorboard --logdir runs/` shows the metrics
 * of metrics.jsonl under the same names. An event file is a TFRecord stream of `Event` protobufs: a first event
 * carrying `file_version: "brain.Event:2"`, then one event per step whose `Summary` holds one `simple_value` per
 * numeric metric (the form tensorboardX and TF 1.x's `tf.summary.scalar` write, which TensorBoard reads as scalars).
 * Each process writes a new file: on resume TensorBoard drops the old file's events past the resumed step itself.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { crc32c } from '../util/crc32c.ts';

export interface TensorBoardEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars?: [tag: string, value: number][];
}

let filesOpened = 0;

export class TensorBoardWriter {
  readonly file: string;

  constructor(dir: string, now = Date.now() / 1000) {
    mkdirSync(dir, { recursive: true });
    // TensorFlow's name: events.out.tfevents.<seconds>.<host>.<pid>.<n>; TensorBoard reads every file that starts so
    this.file = path.join(dir, `events.out.tfevents.${Math.floor(now)}.${hostname()}.${process.pid}.${filesOpened++}`);
    appendFileSync(this.file, tfRecord(encodeEvent({ wallTime: now, step: 0, fileVersion: 'brain.Event:2' })));
  }

  /** One event with every finite numeric field of a metrics line except the step itself and its timestamp. */
  write(step: number, record: Record<string, unknown>, wallTime = Date.now() / 1000): void {
    const scalars = Object.entries(record).filter(
      (e): e is [string, number] =>
        typeof e[1] === 'number' && Number.isFinite(e[1]) && e[0] !== 'step' && e[0] !== 'wall_time',
    );
    appendFileSync(this.file, tfRecord(encodeEvent({ wallTime, step, scalars })));
  }
}

/** TFRecord framing: uint64 length, masked CRC-32C of the length, the data, masked CRC-32C of the data (all little-endian). */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(data.length + 16);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc(data), 12 + data.length);
  return out;
}

/** TFRecord's masking of a CRC (rotate right by 15, add a constant), so CRCs of CRCs stay well distributed. */
function maskedCrc(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

/** Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; } (proto3: a zero step is left out). */
export function encodeEvent(e: TensorBoardEvent): Buffer {
  const parts = [key(1, 1), float64(e.wallTime)];
  if (e.step !== 0) parts.push(key(2, 0), varint(e.step));
  if (e.fileVersion !== undefined) parts.push(lengthDelimited(3, Buffer.from(e.fileVersion)));
  if (e.scalars) {
    // Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; }
    const values = e.scalars.map(([tag, v]) =>
      lengthDelimited(1, Buffer.concat([lengthDelimited(1, Buffer.from(tag)), key(2, 5), float32(v)])),
    );
    parts.push(lengthDelimited(5, Buffer.concat(values)));
  }
  return Buffer.concat(parts);
}

function key(field: number, wireType: number): Buffer {
  return varint(field * 8 + wireType);
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = BigInt(n);
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    bytes.push(v ? low | 0x80 : low);
  } while (v);
  return Buffer.from(bytes);
}

function lengthDelimited(field: number, data: Buffer): Buffer {
  return Buffer.concat([key(field, 2), varint(data.length), data]);
}

function float64(x: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b;
}

function float32(x: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return b;
}
