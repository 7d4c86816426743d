/**
 * Model runs in a process of their own, for their peak memory: how far the process's peak resident
 * memory (VmHWM, reset through /proc/self/clear_refs) rose above its resident memory before them,
 * once a short run has made the session's lazily built state. Runs each length in turn, one input
 * of it (every token real), with the server's session options and feeds. Prints
 * `{"peakBytes","keptBytes"}`: the rise, and what stayed resident after the last run (what
 * ONNX Runtime's arena keeps).
 *
 *   node --import tsx test/helpers/run-peak-child.ts <onnx file> <arena on|off> <tokens>[,<tokens>…] [splade=<vocabulary>] [projection=<width>]
 *
 * With a vocabulary size, the graph is an MLM's, run as a SPLADE worker runs it: max pooling edited in (splade-max-graph.ts).
 * With a projection width, each run's token states then go through a Linear of that width in a session of its own, as
 * bge-m3's colbert_linear head runs them (bge-m3-heads.ts: linearGraph, sessionOptions(1), the arena on).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { spladeMaxGraph } from '../../src/inference/files/splade-max-graph.ts';
import { tokenOutputOf } from '../../src/inference/heads/pooled-head.ts';
import { graphInputs } from '../../src/inference/onnx/graph-inputs.ts';
import { linearGraph } from '../../src/inference/onnx/linear-graph.ts';
import { sessionOptions } from '../../src/inference/onnx/session-options.ts';

const [onnxPath, arena, lengths, ...extras] = process.argv.slice(2);
const extra = (name: string) => extras.find((arg) => arg.startsWith(`${name}=`))?.slice(name.length + 1);
const vocab = extra('splade');
const projectionWidth = Number(extra('projection') ?? 0);
const residentBytes = (field: 'VmRSS' | 'VmHWM') => 1024 * Number(readFileSync('/proc/self/status', 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`))![1]);

const options = sessionOptions(1, arena === 'on');
const session = vocab ? await ort.InferenceSession.create(spladeMaxGraph(onnxPath!, Number(vocab))!, options) : await ort.InferenceSession.create(onnxPath!, options);
const feedsFor = graphInputs(session);
const output = projectionWidth > 0 ? tokenOutputOf(session)! : session.outputNames[0]!;
// Made at the first (short) run, from its token states' width; zero weights: the memory is the shapes'.
let projection: ort.InferenceSession | undefined;
const run = async (tokens: number) => {
  // Token ids 5… are inside every fixture vocabulary.
  const ids = Int32Array.from({ length: tokens }, (_, i) => 5 + (i % 20));
  const outputs = await session.run(feedsFor(ids, new Int32Array(tokens).fill(1), 1, tokens), [output]);
  if (projectionWidth === 0) return;
  const hidden = outputs[output]!.dims[2]!;
  projection ??= await ort.InferenceSession.create(linearGraph(new Float32Array(projectionWidth * hidden), new Float32Array(projectionWidth), hidden), sessionOptions(1));
  await projection.run({ input: outputs[output]! });
};
await run(8);
const before = residentBytes('VmRSS');
writeFileSync('/proc/self/clear_refs', '5');
for (const tokens of lengths!.split(',').map(Number)) await run(tokens);
process.stdout.write(JSON.stringify({ peakBytes: residentBytes('VmHWM') - before, keptBytes: residentBytes('VmRSS') - before }) + '\n');
