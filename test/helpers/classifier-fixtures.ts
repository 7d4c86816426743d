/**
 * Generated sequence classifiers shaped like the ones people serve, one per family and semantics:
 * what the classifier tests load and check against classifier-reference.ts.
 */
import type { FixtureOptions } from './fixture-model.ts';
import type { ReferenceActivation } from './classifier-reference.ts';

/** Every classifier's tokenizer model_max_length: longer texts and pairs are cut. */
export const CLASSIFIER_LIMIT = 32;

export interface ClassifierFixture {
  options: FixtureOptions;
  /** What transformers' pipeline applies by default. */
  activation: ReferenceActivation;
  labels: string[];
  /** Its models.txt line's options. */
  line?: string;
}

const NLI = ['contradiction', 'entailment', 'neutral'];

export const CLASSIFIERS = {
  // SamLowe/roberta-base-go_emotions-like: multi-label, so sigmoid per label.
  'cls/go-emotions': {
    options: { family: 'unigram', crossEncoder: { labelNames: ['admiration', 'amusement', 'anger', 'joy', 'neutral'], problemType: 'multi_label_classification' }, modelMaxLength: CLASSIFIER_LIMIT },
    activation: 'sigmoid',
    labels: ['admiration', 'amusement', 'anger', 'joy', 'neutral'],
  },
  // cardiffnlp/twitter-xlm-roberta-base-sentiment-like: XLM-R, softmax.
  'cls/xlmr-sentiment': {
    options: { family: 'unigram', crossEncoder: { labelNames: ['negative', 'neutral', 'positive'] }, modelMaxLength: CLASSIFIER_LIMIT },
    activation: 'softmax',
    labels: ['negative', 'neutral', 'positive'],
  },
  // A BERT NLI cross-encoder: pairs with token types.
  'cls/bert-nli': {
    options: { crossEncoder: { labelNames: NLI, problemType: 'single_label_classification' }, modelMaxLength: CLASSIFIER_LIMIT },
    activation: 'softmax',
    labels: NLI,
  },
  // cross-encoder/nli-deberta-v3-small-like: SentencePiece Unigram with [CLS]/[SEP], no token_type_ids input.
  'cls/deberta-nli': {
    options: { family: 'deberta-v3', crossEncoder: { labelNames: NLI }, modelMaxLength: CLASSIFIER_LIMIT },
    activation: 'softmax',
    labels: NLI,
  },
  // distilbert-base-uncased-finetuned-sst-2-like: WordPiece, no token_type_ids input, DistilBERT's config names.
  'cls/distilbert-sst2': {
    options: {
      shape: { tokenTypeIds: false },
      crossEncoder: { labelNames: ['NEGATIVE', 'POSITIVE'] },
      modelMaxLength: CLASSIFIER_LIMIT,
      config: {
        model_type: 'distilbert', architectures: ['DistilBertForSequenceClassification'], dim: 32, n_layers: 2, n_heads: 4, hidden_dim: 64,
        hidden_size: undefined, num_hidden_layers: undefined, num_attention_heads: undefined, intermediate_size: undefined, type_vocab_size: undefined,
      },
    },
    activation: 'softmax',
    labels: ['NEGATIVE', 'POSITIVE'],
  },
  // A ModernBERT classifier: byte-level BPE, no token types.
  'cls/modernbert': {
    options: { family: 'modernbert-bpe', crossEncoder: { labelNames: ['no', 'yes'] }, modelMaxLength: CLASSIFIER_LIMIT },
    activation: 'softmax',
    labels: ['no', 'yes'],
  },
  // A one-label classifier (e.g. a toxicity score), declared in models.txt: sigmoid, as the pipeline.
  'cls/one-label': {
    options: { crossEncoder: { labelNames: ['toxic'] }, modelMaxLength: CLASSIFIER_LIMIT },
    activation: 'sigmoid',
    labels: ['toxic'],
    line: 'kind=classifier',
  },
} satisfies Record<string, ClassifierFixture>;

export type ClassifierRepo = keyof typeof CLASSIFIERS;
