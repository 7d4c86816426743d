// node bench/profile/summary.mjs DIR [top]: per .cpuprofile (one per thread, thread-profiles.mjs), its busy time and
// the functions with the most self time. "(anon) :0" in an inference worker is native code: session.run.
import { readdirSync, readFileSync } from 'node:fs';
const dir = process.argv[2]; const top = Number(process.argv[3] ?? 15);
for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
  const p = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dts = p.timeDeltas; let total = 0, idle = 0;
  p.samples.forEach((id, i) => {
    const n = byId.get(id); const dt = dts[i] ?? 0; total += dt;
    const f = n.callFrame; const key = `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    if (f.functionName === '(idle)') idle += dt;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  const busy = total - idle;
  console.log(`\n== ${file}: ${(total / 1e6).toFixed(1)} s sampled, busy ${(busy / 1e6).toFixed(2)} s`);
  [...self.entries()].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)
    .forEach(([k, v]) => console.log(`${(v / 1e3).toFixed(0).padStart(7)} ms ${(100 * v / busy).toFixed(1).padStart(5)}%  ${k}`));
}
