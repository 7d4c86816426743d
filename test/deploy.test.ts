import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';

const DEPLOY = new URL('../deploy/', import.meta.url);

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: Record<string, any>;
}

async function manifests(): Promise<Manifest[]> {
  const files = (await readdir(DEPLOY)).filter((file) => file.endsWith('.yaml'));
  const documents = await Promise.all(files.map(async (file) => parseAllDocuments(await readFile(new URL(file, DEPLOY), 'utf8'))));
  return documents.flat().map((document) => document.toJS() as Manifest);
}

/** kubernetes-models' class for an apiVersion and kind (core group "v1" lives at "v1"). */
async function modelClass(apiVersion: string, kind: string) {
  const module = await import(`kubernetes-models/${apiVersion}/${kind}`);
  return module[kind] as new (data: unknown) => { validate(): void };
}

test('every manifest in deploy/ is valid against the Kubernetes schemas', async () => {
  const all = await manifests();
  assert.deepEqual(all.map((m) => m.kind).sort(), ['Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service']);
  for (const manifest of all) {
    const Model = await modelClass(manifest.apiVersion, manifest.kind);
    assert.doesNotThrow(() => new Model(manifest).validate(), `${manifest.kind} ${manifest.metadata.name}`);
  }
});

test('the Deployment comes up and goes down safely: open probes on the serving port, restricted security, keys fail closed, drains', async () => {
  const all = await manifests();
  const deployment = all.find((m) => m.kind === 'Deployment')!;
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;
  const env = Object.fromEntries(container.env.map((e: { name: string; value?: string }) => [e.name, e]));
  const httpPort = container.ports.find((p: { name: string }) => p.name === 'http').containerPort;
  assert.equal(Number(env.PORT.value), httpPort, 'probes and Service target the port the server listens on');
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    assert.ok(['/health', '/ready'].includes(container[probe].httpGet.path), `${probe} hits a route open without a key`);
    assert.equal(container[probe].httpGet.port, 'http');
  }
  const metricsPort = container.ports.find((p: { name: string }) => p.name === 'metrics').containerPort;
  assert.equal(Number(env.METRICS_PORT.value), metricsPort);
  assert.equal(Number(deployment.spec.template.metadata.annotations['prometheus.io/port']), metricsPort, 'Prometheus scrapes the key-free metrics port');
  // PodSecurity "restricted".
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(pod.volumes, undefined, 'nothing writable is mounted: the image writes nothing at run time');
  // Keys: a missing Secret stops the pod instead of serving with no key.
  assert.equal(env.API_KEYS.valueFrom.secretKeyRef.optional, false);
  // Guaranteed QoS: the CPU quota the server sizes its workers from is what the pod gets.
  assert.deepEqual(container.resources.requests, container.resources.limits);
  // Drain: the grace period covers the preStop sleep and the drain timeout.
  const preStopSeconds = Number(container.lifecycle.preStop.exec.command.at(-1));
  assert.ok(pod.terminationGracePeriodSeconds >= preStopSeconds + Number(env.DRAIN_TIMEOUT_MS.value) / 1000);
});

test('the HPA owns the replica count, a PodDisruptionBudget keeps one pod up, and the Service reaches the pods', async () => {
  const all = await manifests();
  const deployment = all.find((m) => m.kind === 'Deployment')!;
  const hpa = all.find((m) => m.kind === 'HorizontalPodAutoscaler')!;
  assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
  assert.equal(deployment.spec.replicas, undefined, 'replicas beside an HPA resets the scale on every apply');
  const labels = deployment.spec.template.metadata.labels;
  const pdb = all.find((m) => m.kind === 'PodDisruptionBudget')!;
  assert.deepEqual(pdb.spec.selector.matchLabels, labels);
  const service = all.find((m) => m.kind === 'Service')!;
  assert.deepEqual(service.spec.selector, labels);
  assert.equal(service.spec.ports[0].targetPort, 'http');
});
