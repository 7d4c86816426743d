/** What the top of the API docs says: the service, its paths, and its tags in the order a user needs them. */

export const API_DESCRIPTION = [
  'OpenAI-compatible embeddings and Cohere/TEI-compatible reranking from local ONNX sentence-transformers models.',
  '',
  "- **embeddings**: `POST /v1/embeddings`, as the OpenAI SDKs send it (Voyage's and Jina's fields too; int8, uint8, binary and ubinary vectors on request); Cohere's embed API at `POST /v1/embed` and `/v2/embed`.",
  "- **rerank**: `POST /v1/rerank` scores documents against a query with a cross-encoder (Cohere's shape, or Text Embeddings Inference's with `texts`).",
  '- **tokenize**: `POST /v1/tokenize` shows the tokens an embedding model would see.',
  '- **models**: `GET /v1/models` lists the served models, each with the fields of its kind (embedding or reranker).',
  '',
  "Each route is listed once; it also answers without the `/v1` prefix (`/embeddings`, `/rerank`, …; not Cohere's `/v1/embed`), and the probes also under it (`/v1/health`, `/v1/ready`).",
  "Errors use OpenAI's shape: `{\"error\": {\"message\": …, \"type\": …, \"param\": …, \"code\": …}}`.",
].join('\n');

export const API_TAGS = [
  { name: 'embeddings', description: 'Vectors for texts or token ids, from the embedding models.' },
  { name: 'rerank', description: 'Relevance scores of documents for a query, from the rerankers (cross-encoders).' },
  { name: 'classify', description: "Labels for texts and text pairs, from the classifiers (TEI's /predict, vLLM's /classify)." },
  { name: 'similarity', description: "How alike texts are: cosine of an embedding model's vectors, or a reranker's score (TEI's /similarity, vLLM's /score)." },
  { name: 'tokenize', description: 'The tokens an embedding model embeds, to chunk documents to its real limit.' },
  { name: 'models', description: 'The served models and what each one is.' },
  { name: 'health', description: 'Liveness and readiness probes (no API key needed).' },
];
