import type ort from 'onnxruntime-node';
import type { LmHeadRows } from '../files/lm-head-graph.ts';
import { answerHead } from './answer-head.ts';
import type { HeadSpec } from './head-spec.ts';
import type { Head } from './head.ts';
import { logitsHead } from './logits-head.ts';
import { pooledHead } from './pooled-head.ts';

/** The worker's head for a spec of the model's description; `lmHead`: the graph's LM head, taken off at load for an answer head. */
export function createHead(session: ort.InferenceSession, spec: HeadSpec, lmHead: LmHeadRows | undefined): Promise<Head> | Head {
  switch (spec.kind) {
    case 'pooled':
      return pooledHead(session, spec);
    case 'logits':
      return spec.answerTokenIds ? answerHead(lmHead!) : logitsHead(session, spec);
  }
}
