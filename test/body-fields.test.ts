/**
 * What of a JSON body reaches the HTTP thread: only the fields its route reads, in parts of bounded
 * size, with the values inside them capped (issue 32, item 3). Pure functions, the JSON-parse thread,
 * and the real server, whose HTTP thread's CPU time is compared with a body of the same size that
 * is one string (CPU time, not waits: the test holds on a busy machine).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inParts, MAX_BODY_VALUES, MAX_ITEM_VALUES, PART_WEIGHT, routeFields, weightOf, type BodyPart } from '../src/http/body-fields.ts';
import { JsonParseThread } from '../src/http/json-parse-thread.ts';
import { tempDir } from './helpers/app.ts';
import { writeFixtureModel } from './helpers/fixture-model.ts';
import { startServer, type ServerProcess } from './helpers/server-process.ts';

const MB = 1024 * 1024;
const RERANK_FIELDS = ['model', 'query', 'documents', 'top_n', 'return_documents', 'texts'];
/** `count` empty arrays, as JSON text. */
const tinyArrays = (count: number) => `[${'[],'.repeat(count - 1)}[]]`;
const nestedDocument = (index: number, values: number) => ({ text: `document ${index}`, meta: { tags: Array.from({ length: values - 3 }, (_, j) => j) } });

describe('routeFields', () => {
  test('keeps only the fields the route reads (of the others a few short names, without their values, for "did you mean"); an array body keeps none of its items; a scalar stays', () => {
    assert.deepEqual(routeFields({ model: 'm', input: ['a'], extra: [[1], [2]], user: 'u' }, ['model', 'input']), { body: { model: 'm', input: ['a'], extra: null, user: null } });
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`field${i}`, [i]]));
    assert.equal(Object.keys((routeFields({ ...many, ['x'.repeat(65)]: 1 }, ['model']) as { body: object }).body).length, 16);
    const proto = routeFields(JSON.parse('{"__proto__": {"polluted": 1}}'), ['model']) as { body: Record<string, unknown> };
    assert.equal(Object.getPrototypeOf(proto.body), Object.prototype);
    assert.deepEqual(Object.keys(proto.body), ['__proto__']);
    assert.deepEqual(routeFields([[], [], []], ['model']), { body: [] });
    assert.deepEqual(routeFields('text', ['model']), { body: 'text' });
    assert.deepEqual(routeFields(null, ['model']), { body: null });
  });

  test(`refuses a document holding more than ${MAX_ITEM_VALUES} values, naming it, whatever else the body holds`, () => {
    const documents = ['a', nestedDocument(1, MAX_ITEM_VALUES), nestedDocument(2, MAX_ITEM_VALUES + 1)];
    assert.deepEqual(routeFields({ query: 'q', documents }, RERANK_FIELDS), {
      refusal: {
        param: 'documents',
        message: `Invalid 'documents[2]': it holds more than ${MAX_ITEM_VALUES} values (arrays, objects and their members); at most ${MAX_ITEM_VALUES} are allowed in one.`,
      },
    });
    assert.equal(routeFields({ query: { deep: Array.from({ length: MAX_ITEM_VALUES }, () => []) } }, RERANK_FIELDS).hasOwnProperty('refusal'), true);
  });

  test(`refuses a body whose fields hold more than ${MAX_BODY_VALUES} values in all`, () => {
    const documents = Array.from({ length: MAX_BODY_VALUES / MAX_ITEM_VALUES + 1 }, (_, i) => nestedDocument(i, MAX_ITEM_VALUES));
    const kept = routeFields({ documents }, RERANK_FIELDS);
    assert.ok('refusal' in kept);
    assert.equal(kept.refusal.message, `Invalid 'documents': the body's fields hold more than ${MAX_BODY_VALUES} values (arrays, objects, their members and list items); at most ${MAX_BODY_VALUES} are allowed.`);
    // A list of empty values, or of short texts, counts its items.
    assert.ok('refusal' in routeFields({ input: Array.from({ length: MAX_BODY_VALUES + 1 }, () => []) }, ['input']));
    assert.ok('refusal' in routeFields({ query: 'q', documents: Array.from({ length: MAX_BODY_VALUES + 1 }, () => 'a') }, RERANK_FIELDS));
    assert.ok('body' in routeFields({ query: 'q', documents: Array.from({ length: MAX_BODY_VALUES - 1 }, () => 'a') }, RERANK_FIELDS));
  });

  test("input's token id sequences are bounded by their count instead, not by the value cap", () => {
    const input = [Array.from({ length: 5 * MAX_ITEM_VALUES }, (_, i) => i)];
    assert.deepEqual(routeFields({ input }, ['input']), { body: { input } });
    assert.deepEqual(routeFields({ input: input[0] }, ['input']), { body: { input: input[0] } });
    assert.ok('refusal' in routeFields({ documents: input }, ['documents']));
    assert.ok('refusal' in routeFields({ input: [{ ids: input[0] }] }, ['input']));
  });
});

describe('inParts', () => {
  const reassemble = (parts: BodyPart[]) => {
    const body: Record<string, unknown[] | unknown> = {};
    for (const part of parts) body[part.field] = 'value' in part ? part.value : [...((body[part.field] as unknown[]) ?? []), ...part.items];
    return body;
  };

  test('a body light enough for one message is not split', () => {
    assert.equal(inParts({ model: 'm', input: ['hello'] }), undefined);
  });

  test('each part weighs at most PART_WEIGHT, or is one item; together they are the body', () => {
    const body = {
      query: 'q'.repeat(3 * MB),
      documents: [...Array.from({ length: 1000 }, (_, i) => 'word '.repeat(3600 + i)), ...Array.from({ length: 1000 }, (_, i) => nestedDocument(i, 90))],
      texts: ['x'.repeat(5 * MB)],
    };
    const parts = inParts(body)!;
    assert.ok(parts.length > 10, `${parts.length} parts`);
    for (const part of parts) {
      if ('items' in part && part.items.length > 1) assert.ok(weightOf(part.items) <= PART_WEIGHT + 64, `${part.field}: ${weightOf(part.items)}`);
    }
    assert.deepEqual(reassemble(parts), body);
  });
});

test('the JSON-parse thread sends back only the fields the route reads, the documents in order', async () => {
  const thread = new JsonParseThread(1000);
  try {
    const documents = Array.from({ length: 1000 }, (_, i) => nestedDocument(i, 90));
    const body = `{"query":"q","documents":${JSON.stringify(documents)},"ignored":${tinyArrays(1_000_000)},"return_documents":true}`;
    assert.deepEqual(await thread.parse(Buffer.from(body), RERANK_FIELDS), { query: 'q', documents, return_documents: true, ignored: null });
    const refused = await thread.parse(Buffer.from(JSON.stringify({ documents: [nestedDocument(0, 2000)] })), RERANK_FIELDS).catch((error: Error) => error);
    assert.match(String(refused), /Invalid 'documents\[0\]': it holds more than 1000 values/);
  } finally {
    await thread.close();
  }
});

describe('a real server', () => {
  let workDir: string;
  let server: ServerProcess;
  before(async () => {
    workDir = await tempDir('body-fields');
    await writeFixtureModel(workDir, 'test/mean');
    await writeFixtureModel(workDir, 'test/ce', { crossEncoder: {}, modelMaxLength: 32 });
    await writeFile(join(workDir, 'models.txt'), 'test/mean alias=tiny\ntest/ce alias=ce\n');
    server = await startServer({ MODELS_FILE: join(workDir, 'models.txt'), ARTIFACTS_DIR: workDir, INFERENCE_WORKERS: '1', HTTP_PROCESSES: '1', LOG_LEVEL: 'warn' });
  });
  after(async () => {
    await server.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  /** The answer, and the CPU seconds the HTTP thread ran meanwhile. */
  async function postMeasured(path: string, body: string) {
    const bytes = Buffer.from(body);
    const before = (await server.cpuSeconds()).mainThreads;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const outgoing = request(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, text }));
      });
      outgoing.on('error', reject);
      outgoing.end(bytes);
    });
    return { status, json: JSON.parse(text), cpuMs: ((await server.cpuSeconds()).mainThreads - before) * 1000 };
  }

  test('an 18 MB field no route reads, of 6 M tiny arrays, costs the HTTP thread about what one 18 MB string does', async () => {
    // Before: ~1.5–3 CPU-seconds of the HTTP thread in one message (the string: ~35 ms).
    const string = await postMeasured('/v1/embeddings', JSON.stringify({ model: 'tiny', input: 'hello', extra: 'x'.repeat(18 * MB) }));
    const arrays = await postMeasured('/v1/embeddings', `{"model":"tiny","input":"hello","extra":${tinyArrays(6 * MB)}}`);
    assert.equal(string.status, 200);
    assert.equal(arrays.status, 200);
    assert.deepEqual(arrays.json.data[0].embedding, string.json.data[0].embedding);
    console.log(`HTTP thread CPU: 18 MB string ${string.cpuMs.toFixed(0)} ms, 18 MB of tiny arrays ${arrays.cpuMs.toFixed(0)} ms`);
    assert.ok(arrays.cpuMs < 2 * string.cpuMs + 100, `${arrays.cpuMs.toFixed(0)} ms against ${string.cpuMs.toFixed(0)} ms`);
  });

  test('1000 object documents with nested fields are reranked and returned whole; one with thousands of values is a 400', async () => {
    const documents = Array.from({ length: 1000 }, (_, i) => nestedDocument(i, 90));
    const reranked = await postMeasured('/v1/rerank', JSON.stringify({ model: 'ce', query: 'document 7', documents, return_documents: true, ignored: JSON.parse(tinyArrays(1_000_000)) }));
    assert.equal(reranked.status, 200, JSON.stringify(reranked.json).slice(0, 300));
    assert.equal(reranked.json.results.length, 1000);
    for (const { index, document } of reranked.json.results) assert.deepEqual(document, documents[index]);
    console.log(`HTTP thread CPU: rerank of 1000 nested documents ${reranked.cpuMs.toFixed(0)} ms`);
    const absurd = await postMeasured('/v1/rerank', JSON.stringify({ model: 'ce', query: 'q', documents: ['a', { text: 'b', meta: JSON.parse(tinyArrays(1_000_000)) }] }));
    assert.equal(absurd.status, 400);
    assert.deepEqual(absurd.json.error, {
      message: `Invalid 'documents[1]': it holds more than ${MAX_ITEM_VALUES} values (arrays, objects and their members); at most ${MAX_ITEM_VALUES} are allowed in one.`,
      type: 'invalid_request_error',
      param: 'documents',
      code: null,
    });
  });
});
