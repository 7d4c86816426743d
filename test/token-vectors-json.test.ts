import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { CancelSignal } from '../src/cancellation.ts';
import { tokenVectorsJsonParts } from '../src/http/token-vectors-json.ts';
import type { VectorEncoding } from '../src/inference/output/vector-text.ts';

/** The parts joined: the whole JSON text. */
const tokenVectorsJson = async (rows: Float32Array, width: number, encoding: VectorEncoding, signal?: CancelSignal) => Buffer.concat(await tokenVectorsJsonParts(rows, width, encoding, signal));
import { Cancellation } from '../src/cancellation.ts';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

function rowsOf(count: number, width: number): Float32Array {
  return Float32Array.from({ length: count * width }, (_, i) => Math.fround(Math.sin(i * 1.7) * (i % 7 === 0 ? 1e-8 : 3)));
}

describe('token vectors as JSON', () => {
  it('writes rows of numbers exactly as JSON.stringify does, across many slices', async () => {
    for (const [count, width] of [[0, 4], [1, 3], [3, 5], [700, 128]] as const) {
      const rows = rowsOf(count, width);
      const expected = JSON.stringify(Array.from({ length: count }, (_, r) => Array.from(rows.subarray(r * width, (r + 1) * width))));
      assert.equal(text(await tokenVectorsJson(rows, width, 'float')), expected);
    }
  });

  it('writes base64 of the little-endian float32 rows, one string, across slices', async () => {
    for (const count of [0, 1, 2, 1000]) {
      const rows = rowsOf(count, 128);
      const json = JSON.parse(text(await tokenVectorsJson(rows, 128, 'base64'))) as string;
      const back = new Float32Array(Uint8Array.from(Buffer.from(json, 'base64')).buffer);
      assert.deepEqual(back, rows);
    }
  });

  it('lets other work run between slices, and stops when the request is cancelled', async () => {
    const rows = rowsOf(2048, 128);
    let turns = 0;
    let writing = true;
    const counting = (async () => {
      while (writing) {
        turns++;
        await yieldToEventLoop();
      }
    })();
    await tokenVectorsJson(rows, 128, 'float');
    writing = false;
    await counting;
    // 262 144 values in slices of 16 384: the other task ran between them.
    assert.ok(turns >= 7, `other work ran ${turns} times`);
    const cancellation = new Cancellation();
    const writing2 = tokenVectorsJson(rows, 128, 'float', cancellation);
    cancellation.abort(new Error('client left'));
    await assert.rejects(writing2, /client left/);
  });
});
