/** What the primary tells each HTTP process at fork, and what they tell it back. */
export interface ProcessShare {
  /** 0-based: labels this process's metrics. */
  index: number;
  workersPerModel: number;
  intraOpThreads: number;
}

/** The environment variable a forked HTTP process finds its share in. */
export const SHARE_ENV = 'EMBEDDINGS_PROCESS_SHARE';

export type HttpProcessMessage = { kind: 'ready' };
