import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RUN_TOKENS, planSubBatches } from '../../src/inference/onnx/sub-batches.ts';

const cost = (groups: number[][], lengths: number[], overhead: number) =>
  groups.reduce((sum, rows) => sum + overhead + rows.length * Math.max(...rows.map((row) => lengths[row]!)), 0);

/** Every split of the length-sorted texts into consecutive groups, cheapest first. */
function cheapestByBruteForce(lengths: number[], overhead: number): number {
  const sorted = lengths.map((_, row) => row).sort((a, b) => lengths[a]! - lengths[b]!);
  let best = Infinity;
  for (let cuts = 0; cuts < 2 ** (sorted.length - 1); cuts++) {
    const groups: number[][] = [[]];
    sorted.forEach((row, i) => {
      if (i > 0 && cuts & (1 << (i - 1))) groups.push([]);
      groups.at(-1)!.push(row);
    });
    best = Math.min(best, cost(groups, lengths, overhead));
  }
  return best;
}

test('texts of one length stay in one run', () => {
  assert.deepEqual(planSubBatches([12, 12, 12, 12], 20), [[0, 1, 2, 3]]);
});

test('a long text runs apart from short ones when padding them would cost more than a run', () => {
  // One run: 20 + 4 × 200 = 820; apart: (20 + 3 × 10) + (20 + 200) = 270.
  assert.deepEqual(planSubBatches([10, 200, 10, 10], 20), [[0, 2, 3], [1]]);
  // With a run costing more than the padding saved, they stay together: 500 + 2 × 30 < 2 × 500 + 10 + 30.
  assert.deepEqual(planSubBatches([10, 30], 500), [[0, 1]]);
});

test('every text is run exactly once, and the split is the cheapest there is', () => {
  let seed = 7;
  const random = (below: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % below);
  for (let trial = 0; trial < 200; trial++) {
    const lengths = Array.from({ length: 1 + random(10) }, () => 1 + random(300));
    const overhead = random(60);
    const groups = planSubBatches(lengths, overhead, Infinity);
    assert.deepEqual(groups.flat().sort((a, b) => a - b), lengths.map((_, row) => row));
    assert.equal(cost(groups, lengths, overhead), cheapestByBruteForce(lengths, overhead), `lengths ${lengths}, overhead ${overhead}`);
  }
});

test('no run holds more than MAX_RUN_TOKENS padded tokens, however cheap one run would be; a longer text runs alone', () => {
  assert.equal(MAX_RUN_TOKENS, 512);
  const lengths = [...Array.from({ length: 32 }, () => 64), 600];
  const groups = planSubBatches(lengths, 1e9);
  assert.deepEqual(groups.map((rows) => rows.length), [8, 8, 8, 8, 1]);
  for (const rows of groups) assert.ok(rows.length === 1 || rows.length * Math.max(...rows.map((row) => lengths[row]!)) <= MAX_RUN_TOKENS);
  assert.deepEqual(planSubBatches([100, 100, 100, 100, 100], 1e9, 250).map((rows) => rows.length).sort(), [1, 2, 2]);
});
