/** Renders the benchmark results as an SVG chart with Vega-Lite. */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ModelSuite } from './run.ts';

export async function chartSvg(report: ModelSuite, cpus: number): Promise<string> {
  const ratios = (['query', 'index'] as const).flatMap((scenario) => [
    { scenario, who: 'server', textsPerSecond: report.scenarios[scenario].textsPerSecond },
    { scenario, who: `onnxruntime limit (${cpus} sessions)`, textsPerSecond: report.limits[scenario].textsPerSecond },
  ]);
  const sweep = (report.concurrency ?? []).flatMap((row) => [
    { connections: row.connections, metric: 'texts/s', value: row.textsPerSecond },
    { connections: row.connections, metric: 'p99 latency (ms)', value: row.latencyMs.p99 },
  ]);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `embeddings-server on ${report.model} (${cpus} CPUs)`,
    hconcat: [
      {
        title: 'Throughput vs the ONNX Runtime limit',
        data: { values: ratios },
        mark: 'bar',
        encoding: {
          x: { field: 'scenario', type: 'nominal', title: null },
          xOffset: { field: 'who' },
          y: { field: 'textsPerSecond', type: 'quantitative', title: 'texts/s' },
          color: { field: 'who', type: 'nominal', title: null },
        },
        width: 260,
        height: 220,
      },
      {
        title: 'Query scenario vs concurrency',
        data: { values: sweep },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'connections', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'connections' },
          y: { field: 'value', type: 'quantitative', title: null },
          row: { field: 'metric', type: 'nominal', title: null },
        },
        resolve: { scale: { y: 'independent' } },
        width: 260,
        height: 100,
      },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
