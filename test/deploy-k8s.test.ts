/**
 * deploy/k8s checked without a cluster: every object is a known apiVersion/kind with valid names,
 * and the cross-references a schema cannot see hold — selectors match pod labels, probes and
 * Services name real container ports, the HPA targets a real workload with the metric the adapter
 * rule exports, alerts use metrics our code really emits, containers run real CLI flags. When
 * `kubernetes-models` is installed each object is also validated against the Kubernetes OpenAPI
 * schemas, and when kubectl is on PATH the kustomization is built.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  choicesFor,
  flagValues,
  helpFor,
  loadYaml,
  loadYamlDocuments,
  readRepo,
  repoPath,
  type Yaml,
} from './deploy-helpers.ts';

const DIR = 'deploy/k8s';
const kustomization = loadYaml(`${DIR}/kustomization.yaml`);
const objects: Yaml[] = (kustomization.resources as string[]).flatMap((file) =>
  loadYamlDocuments(`${DIR}/${file}`).map((o) => ({ ...o, file })),
);
const adapter = loadYaml(`${DIR}/prometheus-adapter-values.yaml`);

const known: Record<string, string[]> = {
  v1: ['Namespace', 'ConfigMap', 'Service', 'PersistentVolumeClaim'],
  'apps/v1': ['Deployment', 'StatefulSet'],
  'policy/v1': ['PodDisruptionBudget'],
  'autoscaling/v2': ['HorizontalPodAutoscaler'],
  'networking.k8s.io/v1': ['Ingress', 'NetworkPolicy'],
  'monitoring.coreos.com/v1': ['ServiceMonitor', 'PrometheusRule'],
};
const DNS_1123_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_1123_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
const named = (kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const workloads = () => [...ofKind('Deployment'), ...ofKind('StatefulSet')];
const podLabels = (w: Yaml): Record<string, string> => w.spec.template.metadata.labels;
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
const selected = (selector: Record<string, string>) =>
  workloads().filter((w) => matches(selector, podLabels(w)));
const containerOf = (name: string) => {
  const w = workloads().find((x) => x.metadata.name === name)!;
  return { workload: w, pod: w.spec.template.spec, container: w.spec.template.spec.containers[0] };
};
const portNames = (c: Yaml) => new Map((c.ports as Yaml[]).map((p) => [p.name, p.containerPort]));

/** Metric names our code registers (histograms add _bucket/_sum/_count). */
function emittedMetrics(): Set<string> {
  const source = readRepo('backend/engine/engine-metrics.ts') + readRepo('edge/metrics.ts');
  const names = new Set<string>();
  for (const m of source.matchAll(/'((?:edgeserve:|edge_)[a-z_]+)'/g))
    for (const suffix of ['', '_bucket', '_sum', '_count']) names.add(m[1] + suffix);
  return names;
}

describe('deploy/k8s', () => {
  it('lists every manifest in kustomization.yaml (the adapter values are Helm input)', () => {
    const files = readdirSync(repoPath(DIR)).filter((f) => f.endsWith('.yaml'));
    const listed = new Set([...kustomization.resources, 'kustomization.yaml']);
    expect(files.filter((f) => !listed.has(f))).toEqual(['prometheus-adapter-values.yaml']);
  });

  it('uses known apiVersion/kind pairs and valid, unique names', () => {
    const seen = new Set<string>();
    for (const o of objects) {
      expect(known[o.apiVersion], `${o.file}: ${o.apiVersion}`).toContain(o.kind);
      const name = o.metadata?.name;
      const rule = ['Service', 'Namespace'].includes(o.kind) ? DNS_1123_LABEL : DNS_1123_SUBDOMAIN;
      expect(name, `${o.kind} ${name}`).toMatch(rule);
      expect(o.metadata.namespace, 'namespace comes from kustomization').toBeUndefined();
      expect(seen.has(`${o.kind}/${name}`), `${o.kind}/${name} twice`).toBe(false);
      seen.add(`${o.kind}/${name}`);
    }
    expect(named('Namespace', kustomization.namespace)).toBeDefined();
  });

  it('gives workloads selectors that match their own pod labels and nobody else’s', () => {
    for (const w of workloads()) {
      expect(matches(w.spec.selector.matchLabels, podLabels(w)), w.metadata.name).toBe(true);
      expect(selected(w.spec.selector.matchLabels), w.metadata.name).toEqual([w]);
    }
  });

  it('points probes, Services, monitors and the Ingress at ports that exist', () => {
    for (const w of workloads()) {
      const c = w.spec.template.spec.containers[0];
      const ports = portNames(c);
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'].map((p) => c[p]))
        if (probe?.httpGet) expect(ports.has(probe.httpGet.port), w.metadata.name).toBe(true);
    }
    for (const svc of ofKind('Service')) {
      const [target] = selected(svc.spec.selector);
      expect(target, `Service ${svc.metadata.name} selects a workload`).toBeDefined();
      const ports = portNames(target.spec.template.spec.containers[0]);
      for (const p of svc.spec.ports) expect(ports.has(p.targetPort), p.targetPort).toBe(true);
    }
    for (const monitor of ofKind('ServiceMonitor')) {
      const svc = ofKind('Service').find((s) =>
        matches(monitor.spec.selector.matchLabels, s.metadata.labels ?? {}),
      );
      expect(svc, monitor.metadata.name).toBeDefined();
      for (const e of monitor.spec.endpoints)
        expect(svc.spec.ports.map((p: Yaml) => p.name)).toContain(e.port);
    }
    for (const ingress of ofKind('Ingress'))
      for (const rule of ingress.spec.rules)
        for (const path of rule.http.paths) {
          const svc = named('Service', path.backend.service.name);
          expect(svc?.spec.ports.map((p: Yaml) => p.name)).toContain(
            path.backend.service.port.name,
          );
        }
  });

  it('refers only to ConfigMaps, volumes and claims that exist; Secrets are created as documented', () => {
    const docs = readRepo('docs/deploy.md');
    for (const w of workloads()) {
      const pod = w.spec.template.spec;
      const volumes = new Set(pod.volumes.map((v: Yaml) => v.name));
      for (const v of pod.volumes) {
        if (v.configMap) expect(named('ConfigMap', v.configMap.name), v.name).toBeDefined();
        if (v.persistentVolumeClaim)
          expect(named('PersistentVolumeClaim', v.persistentVolumeClaim.claimName)).toBeDefined();
      }
      for (const c of pod.containers) {
        for (const m of c.volumeMounts) expect(volumes.has(m.name), m.name).toBe(true);
        for (const e of c.envFrom ?? [])
          expect(named('ConfigMap', e.configMapRef.name), e.configMapRef.name).toBeDefined();
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref) continue;
          expect(named('Secret', ref.name), 'no Secret values in git').toBeUndefined();
          const create = new RegExp(
            `kubectl .*create secret generic ${ref.name} .*--from-literal=${ref.key}=`,
          );
          expect(docs, `docs/deploy.md creates ${ref.name}/${ref.key}`).toMatch(create);
        }
      }
    }
  });

  it('runs containers as non-root on a read-only root with /tmp writable (tsx’s cache)', () => {
    for (const w of workloads()) {
      const pod = w.spec.template.spec;
      expect(pod.securityContext.runAsNonRoot, w.metadata.name).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      for (const c of pod.containers) {
        expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
        expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
        expect(c.volumeMounts.map((m: Yaml) => m.mountPath)).toContain('/tmp');
      }
    }
  });

  it('runs the real CLI: subcommands, flags and choices from --help', () => {
    for (const w of workloads()) {
      const [sub, ...args] = w.spec.template.spec.containers[0].args as string[];
      const { flags } = helpFor(sub!);
      for (const arg of args.filter((a) => a.startsWith('--')))
        expect(flags.has(arg), `${w.metadata.name}: ${sub} ${arg}`).toBe(true);
      const device = flagValues(args).get('--device');
      if (device) expect(choicesFor(sub!, '--device')).toContain(device);
      expect(flagValues(args).get('--host')).toBe('0.0.0.0');
    }
  });

  it('schedules each backend on one whole GPU in a GPU pool, and probes it for load, readiness and hangs', () => {
    const { pod, container: c } = containerOf('edgeserve-backend');
    expect(flagValues(c.args).get('--device')).toBe('cuda');
    expect(c.resources.requests['nvidia.com/gpu']).toBe(1);
    expect(c.resources.limits['nvidia.com/gpu']).toBe(c.resources.requests['nvidia.com/gpu']);
    const terms = pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    expect(terms.nodeSelectorTerms[0].matchExpressions[0].key).toMatch(/^nvidia\.com\//);
    expect(pod.tolerations).toContainEqual(
      expect.objectContaining({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }),
    );
    const budget = (p: Yaml) => p.periodSeconds * p.failureThreshold;
    for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe])
      expect(probe.httpGet.path).toBe('/health');
    expect(budget(c.startupProbe), 'model load gets minutes').toBeGreaterThanOrEqual(600);
    expect(budget(c.livenessProbe), 'a blip is not a hang').toBeGreaterThanOrEqual(30);
    expect(budget(c.readinessProbe)).toBeLessThan(budget(c.livenessProbe));
    // The port flag agrees with the container port the probes use.
    expect(String(portNames(c).get('http'))).toBe(flagValues(c.args).get('--port'));
  });

  it('drains gracefully: preStop before SIGTERM, and a grace period that outlasts both', () => {
    for (const w of workloads()) {
      const pod = w.spec.template.spec;
      const [cmd, seconds] = pod.containers[0].lifecycle.preStop.exec.command;
      expect(cmd).toBe('sleep');
      expect(pod.terminationGracePeriodSeconds, w.metadata.name).toBeGreaterThan(
        Number(seconds) + 30,
      );
    }
  });

  it('finds backends through a headless Service the StatefulSet names', () => {
    const sts = named('StatefulSet', 'edgeserve-backend')!;
    const svc = named('Service', sts.spec.serviceName)!;
    expect(svc.spec.clusterIP).toBe('None');
    expect(matches(svc.spec.selector, podLabels(sts))).toBe(true);
  });

  it('lists every pod the backend HPA may create in the edge BACKEND_URLS', () => {
    const hpa = ofKind('HorizontalPodAutoscaler').find(
      (h) => h.spec.scaleTargetRef.kind === 'StatefulSet',
    )!;
    const sts = named('StatefulSet', hpa.spec.scaleTargetRef.name)!;
    const port = named('Service', sts.spec.serviceName)!.spec.ports[0].port;
    const urls = named('ConfigMap', 'edgeserve-edge')!.data.BACKEND_URLS.split(',');
    const expected = Array.from(
      { length: hpa.spec.maxReplicas },
      (_, i) => `http://${sts.metadata.name}-${i}.${sts.spec.serviceName}:${port}`,
    );
    expect(urls).toEqual(expected);
  });

  it('scales backends on queue depth through the prometheus-adapter rule', () => {
    const hpa = named('HorizontalPodAutoscaler', 'edgeserve-backend')!;
    const target = hpa.spec.scaleTargetRef;
    const workload = named(target.kind, target.name)!;
    expect(workload.apiVersion).toBe(target.apiVersion);
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    const [metric] = hpa.spec.metrics;
    expect(metric.type).toBe('Pods');
    const rule = adapter.rules.custom.find((r: Yaml) => r.name.as === metric.pods.metric.name);
    expect(rule, 'an adapter rule exports the HPA metric').toBeDefined();
    const series = /__name__="([^"]+)"/.exec(rule.seriesQuery)![1]!;
    expect(emittedMetrics().has(series), series).toBe(true);
    expect(series).toMatch(new RegExp(rule.name.matches));
    expect(rule.name.as).toMatch(/^[a-z0-9_]+$/);
    expect(Object.keys(rule.resources.overrides).sort()).toEqual(['namespace', 'pod']);
  });

  it('keeps at most one backend and at least one edge down in voluntary disruptions', () => {
    for (const pdb of ofKind('PodDisruptionBudget')) {
      const [w] = selected(pdb.spec.selector.matchLabels);
      expect(w, pdb.metadata.name).toBeDefined();
      if (w.kind === 'StatefulSet') expect(pdb.spec.maxUnavailable).toBe(1);
      else expect(pdb.spec.minAvailable).toBeLessThan(w.spec.replicas);
    }
  });

  it('lets only the edge (and monitoring) reach the backends', () => {
    const [policy] = ofKind('NetworkPolicy');
    expect(selected(policy.spec.podSelector.matchLabels)[0].metadata.name).toBe(
      'edgeserve-backend',
    );
    const peers = policy.spec.ingress[0].from;
    const fromPods = peers
      .filter((p: Yaml) => p.podSelector)
      .map((p: Yaml) => p.podSelector.matchLabels);
    expect(fromPods.map((l: Yaml) => selected(l)[0]?.metadata.name)).toEqual(['edgeserve-edge']);
  });

  it('alerts on GPU > 85 %, P99 latency > 2 s, errors > 1 %, KV usage and preemptions, with metrics we emit', () => {
    const rules: Yaml[] = ofKind('PrometheusRule').flatMap((r) =>
      r.spec.groups.flatMap((g: Yaml) => g.rules),
    );
    const emitted = emittedMetrics();
    for (const rule of rules) {
      expect(rule.labels.severity, rule.alert).toMatch(/^(warning|critical)$/);
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      expect(rule.for, rule.alert).toMatch(/^\d+m$/);
      const depth = [...rule.expr].reduce(
        (d: number, ch: string) => (d < 0 ? d : d + (ch === '(' ? 1 : ch === ')' ? -1 : 0)),
        0,
      );
      expect(depth, `${rule.alert}: balanced parentheses`).toBe(0);
      for (const m of rule.expr.matchAll(/\b((?:edgeserve:|edge_)[a-z_]+)/g))
        expect(emitted.has(m[1]), `${rule.alert}: ${m[1]}`).toBe(true);
    }
    const expr = (pattern: RegExp) => rules.find((r) => pattern.test(r.expr))?.expr;
    expect(expr(/DCGM_FI_DEV_GPU_UTIL/)).toMatch(/> 85$/);
    expect(expr(/histogram_quantile\(0\.99,/)).toMatch(/> 2$/);
    expect(expr(/edge_requests_total\{status=~"5\.\."\}/)).toMatch(/> 0\.01$/);
    expect(expr(/edgeserve:kv_cache_usage_perc/)).toMatch(/> 0\.9\d*$/);
    expect(expr(/edgeserve:num_preemptions_total/)).toMatch(/rate\(/);
  });

  const kubectl = (() => {
    try {
      execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!kubectl)(
    'builds with kustomize into the edgeserve namespace with pinned images',
    () => {
      const built = execFileSync('kubectl', ['kustomize', repoPath(DIR)], { encoding: 'utf8' });
      const docs = built
        .split(/^---$/m)
        .map((d) => d.trim())
        .filter(Boolean);
      expect(docs).toHaveLength(objects.length);
      expect(built).not.toMatch(/image: edgeserve-/);
      expect(built.match(/namespace: edgeserve$/gm)?.length).toBe(objects.length - 1);
    },
  );

  const schemas = existsSync(repoPath('node_modules', 'kubernetes-models'));
  it.skipIf(!schemas)('validates every object against the Kubernetes OpenAPI schemas', async () => {
    const modules: Record<string, string> = {
      'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
    };
    for (const o of objects) {
      const { file: _, ...object } = o;
      const spec = modules[o.apiVersion] ?? `kubernetes-models/${o.apiVersion}`;
      const mod = (await import(/* @vite-ignore */ spec)) as Record<string, new (o: Yaml) => Yaml>;
      expect(
        () => new mod[o.kind]!(object).validate(),
        `${o.kind} ${o.metadata.name}`,
      ).not.toThrow();
    }
  });
});
