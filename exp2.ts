import { loadTokenizer } from './src/inference/tokenizer.ts';
import { makeTexts } from './bench/texts.ts';
import { measureLimit } from './bench/limit.ts';
const dir = '/tmp/benchart';
const tok = await loadTokenizer(dir, 'bench/m', { maxTokens: 256, lowercase: false });
const q = makeTexts(tok, 2048, 8, 32, 1).map((t) => tok.encode(t.text));
const r = await measureLimit(dir + '/bench/m/onnx/model.onnx', q, 2, [32, 64, 128], 5);
console.log(process.env.SPIN, JSON.stringify(r.bySize));
