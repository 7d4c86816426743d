import type ort from 'onnxruntime-node';
import { bgeM3ColbertHead, bgeM3SparseHead } from './bge-m3-heads.ts';
import type { LmHeadRows } from '../files/lm-head-graph.ts';
import { answerHead } from './answer-head.ts';
import type { HeadSpec } from './head-spec.ts';
import type { Head } from './head.ts';
import { logitsHead } from './logits-head.ts';
import { pooledHead } from './pooled-head.ts';
import { sparseHead } from './sparse-head.ts';
import { tokenVectorsHead } from './token-vectors.ts';

/** The worker's head for a spec of the model's description; `lmHead`: the graph's LM head, taken off at load for an answer head. */
export function createHead(session: ort.InferenceSession, spec: HeadSpec, lmHead: LmHeadRows | undefined): Promise<Head> | Head {
  switch (spec.kind) {
    case 'pooled':
      return pooledHead(session, spec);
    case 'logits':
      return spec.answerTokenIds ? answerHead(lmHead!) : logitsHead(session, spec);
    case 'sparse':
      return spec.method === 'bge-m3' ? bgeM3SparseHead(session, spec) : sparseHead(session, spec);
    case 'token-vectors':
      return spec.method === 'bge-m3' ? bgeM3ColbertHead(session, spec) : tokenVectorsHead(session, spec);
  }
}
