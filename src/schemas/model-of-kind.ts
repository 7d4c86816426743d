import type { z } from 'zod';
import type { ModelEntry, Registry } from '../registry.ts';
import { MODEL_KIND_MISMATCH, MODEL_NOT_FOUND } from './embeddings.ts';
import type { ModelKind } from './models.ts';

const KIND_NAMES: Record<ModelKind, string> = { embedding: 'embedding model', reranker: 'reranker', classifier: 'classifier' };

/**
 * The model a request names, or when it names none the first served of `kinds` (TEI's clients name
 * none), checked to be one of them: an unknown name is model_not_found (404), another kind
 * model_kind_mismatch, none to default to a 400 saying so.
 */
export function resolveModelOfKind(registry: Registry, name: string | undefined, kinds: ModelKind[], ctx: z.RefinementCtx): ModelEntry | undefined {
  const wanted = kinds.map((kind) => KIND_NAMES[kind]).join(' or ');
  if (name === undefined) {
    const entry = registry.entries.find((candidate) => kinds.includes(candidate.description.kind));
    if (!entry) ctx.addIssue({ code: 'custom', path: ['model'], message: `no ${wanted} is served (its models: ${registry.ids.join(', ')})` });
    return entry;
  }
  const entry = registry.resolve(name);
  if (!entry) {
    ctx.addIssue({ code: 'custom', path: ['model'], message: `unknown model '${name}'`, params: { code: MODEL_NOT_FOUND } });
  } else if (!kinds.includes(entry.description.kind)) {
    ctx.addIssue({ code: 'custom', path: ['model'], message: `'${entry.spec.id}' is not a ${wanted}`, params: { code: MODEL_KIND_MISMATCH } });
    return undefined;
  }
  return entry;
}
