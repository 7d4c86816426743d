import type ort from 'onnxruntime-node';
import { bgeM3ColbertHead, bgeM3SparseHead } from './bge-m3-heads.ts';
import type { HeadSpec } from './head-spec.ts';
import type { Head } from './head.ts';
import { logitsHead } from './logits-head.ts';
import { pooledHead } from './pooled-head.ts';

/** The worker's head for a spec of the model's description. */
export function createHead(session: ort.InferenceSession, spec: HeadSpec): Promise<Head> | Head {
  switch (spec.kind) {
    case 'pooled':
      return pooledHead(session, spec);
    case 'logits':
      return logitsHead(session, spec);
    case 'sparse':
      return bgeM3SparseHead(session, spec);
    case 'token-vectors':
      return bgeM3ColbertHead(session, spec);
  }
}
