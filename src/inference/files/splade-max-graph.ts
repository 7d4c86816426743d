/**
 * SPLADE's max pooling moved into the graph: its masked-language logits [batch, tokens, vocabulary] become one row
 * per text [batch, vocabulary], the largest logit of each vocabulary entry over the text's attended tokens
 * (attention_mask × logits, ReduceMax over the tokens). The worker then transforms only those (log1p of relu is
 * monotone, so it is the max of the transformed logits: splade.ts), and no longer copies out and walks
 * tokens × 30 522 floats a text: ONNX Runtime's vectorised loop did that pass in about a third of JavaScript's
 * time, and the logits stay inside the run. A padded position's product is 0, which the relu makes of any
 * negative maximum anyway.
 */
import { assembleModel, editGraphFile } from './onnx-graph-file.ts';
import { graphField as GRAPH, int64Tensor, intAttribute, intsAttribute, node, ONNX_FLOAT, ONNX_FLOAT16, valueInfo } from './onnx-messages.ts';
import { lengthField } from './protobuf-fields.ts';

/** The edited graph's output: per text, each vocabulary entry's largest logit over its attended tokens. */
export const SPLADE_MAX_OUTPUT = 'splade_max_logits';
const MASK_INPUT = 'attention_mask';

/** An MLM's logits among a graph's outputs: `logits`, else its one output [batch, tokens, vocabulary] as wide as the vocabulary. */
export function mlmLogitsOf<Output extends { name: string; dims: readonly unknown[] }>(outputs: readonly Output[], vocab: number): Output {
  const logits = outputs.find(({ name }) => name === 'logits') ?? outputs.find(({ dims }) => dims.length === 3 && dims[2] === vocab);
  if (!logits) throw new Error(`the ONNX graph has no masked-language logits (an output "logits" or [batch, tokens, ${vocab}]) for SPLADE; its outputs: ${outputs.map(({ name }) => name).join(', ')}`);
  return logits;
}

/**
 * The graph of `onnxFile` with its logits (`logits`, else its one [batch, tokens, vocab] output) max-pooled; undefined
 * when it takes no attention mask to pool by, or does not declare its logits float32 or float16.
 */
export function spladeMaxGraph(onnxFile: string, vocab: number): Uint8Array | undefined {
  return editGraphFile(onnxFile, (graph) => {
    if (!graph.inputs.some(({ name }) => name === MASK_INPUT)) return undefined;
    const logits = mlmLogitsOf(graph.outputs, vocab);
    // An output whose type the graph leaves undeclared (or not a float) is pooled by the worker, which reads what the run gives.
    if (logits.elemType !== ONNX_FLOAT && logits.elemType !== ONNX_FLOAT16) return undefined;
    // Opset 13 made Unsqueeze's axes an input, opset 18 ReduceMax's.
    const axesInputs = graph.opset >= 13;
    const reduceAxesInput = graph.opset >= 18;
    const name = (part: string) => `splade_max/${part}`;
    const added: Uint8Array[] = [
      lengthField(GRAPH.node, node('Cast', [MASK_INPUT], name('mask'), [intAttribute('to', logits.elemType)])),
      lengthField(GRAPH.node, node('Unsqueeze', axesInputs ? [name('mask'), name('last_axis')] : [name('mask')], name('mask_per_token'), axesInputs ? [] : [intsAttribute('axes', [2])])),
      lengthField(GRAPH.node, node('Mul', [logits.name, name('mask_per_token')], name('masked'))),
      lengthField(
        GRAPH.node,
        node('ReduceMax', reduceAxesInput ? [name('masked'), name('token_axis')] : [name('masked')], SPLADE_MAX_OUTPUT, [
          ...(reduceAxesInput ? [] : [intsAttribute('axes', [1])]),
          intAttribute('keepdims', 0),
        ]),
      ),
      ...(axesInputs ? [lengthField(GRAPH.initializer, int64Tensor(name('last_axis'), [1], [2]))] : []),
      ...(reduceAxesInput ? [lengthField(GRAPH.initializer, int64Tensor(name('token_axis'), [1], [1]))] : []),
      lengthField(GRAPH.output, valueInfo(SPLADE_MAX_OUTPUT, logits.elemType, ['batch_size', vocab])),
    ];
    // The logits are no longer an output: ONNX Runtime may free (or reuse) them once pooled.
    return assembleModel(graph, [...graph.graphFields.filter((range) => range !== logits.range), ...added]);
  });
}
