import type { Registry } from 'prom-client';

/** What the primary tells each HTTP process at fork, and what they tell each other over the IPC channel. */
export interface ProcessShare {
  /** 0-based: labels this process's metrics. */
  index: number;
  workersPerModel: number;
  intraOpThreads: number;
  /** The memory its model runs may hold at once beyond the weights. */
  runMemoryBytes: number;
  /** ONNX Runtime's memory arena stays on for models taking long inputs (ServingPlan.keepArena). */
  keepArena: boolean;
}

/** The environment variable a forked HTTP process finds its share in. */
export const SHARE_ENV = 'EMBEDDINGS_PROCESS_SHARE';

/** One process's metrics as prom-client's getMetricsAsJSON() gives them, for AggregatorRegistry.aggregate. */
export type MetricsSnapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export type HttpProcessMessage =
  /** It answers metrics requests from here on. */
  | { kind: 'metrics-ready' }
  /** Its models are loaded and it listens (on `port`): it serves. */
  | { kind: 'ready'; port: number }
  | { kind: 'metrics'; id: number; metrics: MetricsSnapshot };

export type PrimaryMessage = { kind: 'metrics-request'; id: number };
