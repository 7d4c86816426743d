import type { z } from 'zod';
import type { ModelEntry, Registry } from '../registry.ts';
import { MODEL_KIND_MISMATCH, MODEL_NOT_FOUND } from './embeddings.ts';
import type { ModelKind } from './models.ts';

/** Marks the schema issue of a request naming no model when no model of its kind is served. */
export const NO_MODEL_OF_KIND = 'no_model_of_kind';

const KIND_NAMES: Record<ModelKind, string> = { embedding: 'embedding model', reranker: 'reranker', classifier: 'classifier' };

/** The model a request names, or when it names none the first served of `kinds` (TEI serves one model; its clients name none). */
export const modelOfKind = (registry: Registry, name: string | null | undefined, kinds: readonly ModelKind[]): ModelEntry | undefined =>
  name == null ? registry.entries.find((entry) => kinds.includes(entry.description.kind)) : registry.resolve(name);

/**
 * modelOfKind, checked to be one of `kinds`: an unknown name is model_not_found (404), another kind
 * model_kind_mismatch, none to default to no_model_of_kind (404, naming what to add).
 */
export function resolveModelOfKind(registry: Registry, name: string | null | undefined, kinds: readonly ModelKind[], ctx: z.RefinementCtx): ModelEntry | undefined {
  const wanted = kinds.map((kind) => KIND_NAMES[kind]).join(' or ');
  const entry = modelOfKind(registry, name, kinds);
  if (!entry) {
    const issue =
      name == null ? { message: `no ${wanted} is served`, params: { code: NO_MODEL_OF_KIND, kind: kinds[0] } } : { message: `unknown model '${name}'`, params: { code: MODEL_NOT_FOUND } };
    ctx.addIssue({ code: 'custom', path: ['model'], ...issue });
    return undefined;
  }
  if (!kinds.includes(entry.description.kind)) {
    ctx.addIssue({ code: 'custom', path: ['model'], message: `'${entry.spec.id}' is not a ${wanted}`, params: { code: MODEL_KIND_MISMATCH } });
    return undefined;
  }
  return entry;
}
