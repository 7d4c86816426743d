import type ort from 'onnxruntime-node';
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
  }
}
