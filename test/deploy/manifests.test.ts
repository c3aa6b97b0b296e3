// The deployment files are validated here, without a cluster or a Docker engine: deploy/compose.yaml
// against the Compose Specification's JSON schema (the copy dclint ships), every Kubernetes object in
// deploy/kubernetes/ against its API schema (kubernetes-models), and what no schema sees: names that
// refer to each other, probe paths, the shutdown budget, and that each config.toml passes the
// gateway's own validation.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseConfig, type LoadedConfig } from '../../src/config/load-config.js';

// dist/test/deploy/ -> the repository root.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const deployDir = path.join(root, 'deploy');
const kubernetesDir = path.join(deployDir, 'kubernetes');

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Each Kubernetes kind the manifests may use, with its schema-validating model. */
const kubernetesModels: Record<string, new (data: Json) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

interface Manifest {
  file: string;
  object: Json;
}

function readYamlDocuments(file: string): Json[] {
  const documents = parseAllDocuments(readFileSync(file, 'utf8'));
  const objects: Json[] = [];
  for (const document of documents) {
    assert.deepEqual(document.errors.map(String), [], `${path.relative(root, file)}: YAML errors`);
    const value = document.toJS() as Json | null;
    if (value !== null) objects.push(value);
  }
  return objects;
}

function loadKubernetesManifests(): Manifest[] {
  const files = readdirSync(kubernetesDir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort();
  return files.flatMap((name) => readYamlDocuments(path.join(kubernetesDir, name)).map((object) => ({ file: name, object })));
}

function kubernetesValidationError(object: Json): string | undefined {
  const Model = kubernetesModels[`${object.apiVersion}/${object.kind}`];
  if (!Model) return `no schema for ${object.apiVersion} ${object.kind}: add it to kubernetesModels`;
  try {
    new Model(object).validate();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function composeValidator() {
  const require = createRequire(import.meta.url);
  // dclint exports only its code; the schema file sits beside its package.json.
  const schemaFile = path.join(path.dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as Json;
  // strict: false because the upstream schema uses annotations Ajv's strict mode does not know.
  const ajv = new Ajv({ allErrors: true, strict: false });
  // The schema names draft-07 by its https URL; Ajv knows the meta-schema by the http one.
  const draft07 = JSON.parse(readFileSync(require.resolve('ajv/dist/refs/json-schema-draft-07.json'), 'utf8')) as Json;
  if (schema.$schema !== draft07.$id) ajv.addMetaSchema({ ...draft07, $id: schema.$schema });
  return ajv.compile(schema);
}

/** Parses a config.toml as the gateway would, with the secrets it names set in the environment. */
function parseWithSecrets(source: string, file: string, secrets: Record<string, string>): LoadedConfig {
  const saved = Object.fromEntries(Object.keys(secrets).map((name) => [name, process.env[name]]));
  Object.assign(process.env, secrets);
  try {
    return parseConfig(source, file);
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** "45s", "1m30s", "2m" or a number of seconds, as compose durations are written. */
function composeDurationSeconds(value: string | number): number {
  if (typeof value === 'number') return value;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)/g)];
  assert.equal(parts.map((part) => part[0]).join(''), value, `cannot read the duration ${value}`);
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };
  return parts.reduce((seconds, part) => seconds + Number(part[1]) * unit[part[2]], 0);
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

describe('deploy/compose.yaml', () => {
  const composeFile = path.join(deployDir, 'compose.yaml');
  const compose = parseYaml(readFileSync(composeFile, 'utf8')) as Json;
  const gateway = compose.services?.switchyard as Json;
  const configFolder = path.join(deployDir, 'config');

  test('validates against the Compose Specification schema', () => {
    const validate = composeValidator();
    const valid = validate(compose);
    assert.ok(valid, `compose.yaml: ${JSON.stringify(validate.errors, null, 2)}`);
  });

  test('the schema check is strict: a misspelt key fails', () => {
    const validate = composeValidator();
    const broken = structuredClone(compose);
    broken.services.switchyard.deploy.resources.reservations.devices[0].capabilitiez = ['gpu'];
    assert.equal(validate(broken), false);
  });

  test('reserves an NVIDIA GPU, mounts config read-only and models, takes the key from the environment', () => {
    const devices = gateway.deploy?.resources?.reservations?.devices as Json[];
    assert.ok(
      devices.some((device) => device.driver === 'nvidia' && device.capabilities.includes('gpu')),
      'an nvidia gpu reservation',
    );
    const volumes = gateway.volumes as Json[];
    const config = volumes.find((volume) => volume.target === '/etc/switchyard');
    assert.ok(config, 'the config folder is mounted at /etc/switchyard');
    assert.equal(config.read_only, true, 'the config is mounted read-only');
    assert.equal(path.resolve(deployDir, config.source), configFolder);
    assert.ok(
      volumes.some((volume) => volume.target === '/models'),
      'a models volume at /models',
    );
    assert.match(String(gateway.environment?.SWITCHYARD_API_KEY), /^\$\{SWITCHYARD_API_KEY(:?[?-].*)?\}$/, 'the key comes from the environment');
    assert.ok(
      gateway.ports.some((port: string) => String(port).endsWith(':8080')),
      'publishes the container port 8080',
    );
  });

  test('its config.toml is valid, shares limits through the compose Redis, and stops within stop_grace_period', () => {
    const file = path.join(configFolder, 'config.toml');
    const loaded = parseWithSecrets(readFileSync(file, 'utf8'), file, { SWITCHYARD_API_KEY: 'sk-compose-test-key' });
    const api = loaded.config.api;
    assert.equal(api.address, '0.0.0.0:8080');
    assert.equal(api.require_auth, true);
    assert.equal(api.api_key_env, 'SWITCHYARD_API_KEY');
    assert.equal(api.rate_limit.store, 'redis');
    const redis = new URL(api.rate_limit.redis_url ?? '');
    assert.ok(compose.services[redis.hostname], `redis_url names the compose service "${redis.hostname}"`);
    assert.ok(Object.keys(gateway.depends_on ?? {}).includes(redis.hostname), 'switchyard starts after redis');
    const graceSeconds = (api as { shutdown_grace?: number }).shutdown_grace ?? 30;
    assert.ok(
      composeDurationSeconds(gateway.stop_grace_period) > graceSeconds,
      `stop_grace_period ${gateway.stop_grace_period} > shutdown_grace ${graceSeconds}`,
    );
  });
});

describe('deploy/kubernetes', () => {
  const manifests = loadKubernetesManifests();
  const objects = manifests.map((manifest) => manifest.object);
  const find = (kind: string, name: string) => objects.find((object) => object.kind === kind && object.metadata?.name === name);
  const namespace = objects.find((object) => object.kind === 'Namespace')?.metadata?.name as string;
  const deployments = objects.filter((object) => object.kind === 'Deployment');
  const gateway = find('Deployment', 'switchyard') as Json;
  const gatewayPod = gateway?.spec?.template?.spec as Json;
  const gatewayContainer = gatewayPod?.containers?.find((container: Json) => container.name === 'switchyard') as Json;
  const configMap = find('ConfigMap', 'switchyard-config') as Json;
  const secret = find('Secret', 'switchyard-secrets') as Json;

  test('holds the objects a GPU deployment needs', () => {
    const kinds = new Set(objects.map((object) => object.kind));
    for (const kind of ['Namespace', 'Deployment', 'Service', 'ConfigMap', 'Secret', 'PodDisruptionBudget', 'HorizontalPodAutoscaler'])
      assert.ok(kinds.has(kind), `a ${kind}`);
    assert.ok(gateway, 'the switchyard Deployment');
    assert.ok(gatewayContainer, 'its switchyard container');
    assert.ok(
      deployments.some((deployment) => deployment.spec.template.spec.containers.some((container: Json) => /^redis(:|$)/.test(container.image))),
      'a Redis Deployment',
    );
  });

  test('every object validates against its Kubernetes API schema', () => {
    const problems = manifests.flatMap(({ file, object }) => {
      const error = kubernetesValidationError(object);
      return error === undefined ? [] : [`${file}: ${object.kind} ${object.metadata?.name}: ${error}`];
    });
    assert.deepEqual(problems, []);
  });

  test('the schema check catches a wrong type', () => {
    const broken = structuredClone(gateway);
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
    assert.match(kubernetesValidationError(broken) ?? '', /containerPort/);
  });

  test('every namespaced object lives in the namespace the folder creates', () => {
    assert.ok(namespace, 'a Namespace');
    for (const { file, object } of manifests) {
      if (object.kind !== 'Namespace') assert.equal(object.metadata?.namespace, namespace, `${file}: ${object.kind} ${object.metadata?.name}`);
    }
    assert.equal(manifests[0].object.kind, 'Namespace', 'the Namespace is applied first (kubectl apply -f sorts files by name)');
  });

  test('Deployment selectors match their pod labels, and Services select exactly one Deployment on a named port', () => {
    for (const deployment of deployments) {
      assert.ok(
        matches(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels),
        `${deployment.metadata.name}: selector matches its template`,
      );
    }
    for (const service of objects.filter((object) => object.kind === 'Service')) {
      const selected = deployments.filter((deployment) => matches(service.spec.selector, deployment.spec.template.metadata.labels));
      assert.equal(
        selected.length,
        1,
        `Service ${service.metadata.name} selects one Deployment (found ${selected.map((d) => d.metadata.name).join(', ') || 'none'})`,
      );
      const ports = selected[0].spec.template.spec.containers.flatMap((container: Json) => container.ports ?? []);
      for (const port of service.spec.ports) {
        const target = port.targetPort ?? port.port;
        assert.ok(
          ports.some((candidate: Json) => candidate.name === target || candidate.containerPort === target),
          `Service ${service.metadata.name}: targetPort ${target} exists`,
        );
      }
    }
  });

  test('every ConfigMap and Secret a pod refers to exists, with the keys it names', () => {
    for (const deployment of deployments) {
      const pod = deployment.spec.template.spec as Json;
      const where = `Deployment ${deployment.metadata.name}`;
      for (const volume of pod.volumes ?? []) {
        if (volume.configMap) assert.ok(find('ConfigMap', volume.configMap.name), `${where}: ConfigMap ${volume.configMap.name}`);
        if (volume.secret) assert.ok(find('Secret', volume.secret.secretName), `${where}: Secret ${volume.secret.secretName}`);
      }
      for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
        for (const variable of container.env ?? []) {
          const secretRef = variable.valueFrom?.secretKeyRef;
          if (secretRef) {
            const target = find('Secret', secretRef.name);
            assert.ok(target, `${where}: Secret ${secretRef.name}`);
            assert.ok(secretRef.key in { ...target.data, ...target.stringData }, `${where}: Secret ${secretRef.name} has ${secretRef.key}`);
          }
          const configRef = variable.valueFrom?.configMapKeyRef;
          if (configRef)
            assert.ok(find('ConfigMap', configRef.name)?.data?.[configRef.key] !== undefined, `${where}: ConfigMap ${configRef.name} has ${configRef.key}`);
        }
        for (const source of container.envFrom ?? []) {
          if (source.secretRef) assert.ok(find('Secret', source.secretRef.name), `${where}: Secret ${source.secretRef.name}`);
          if (source.configMapRef) assert.ok(find('ConfigMap', source.configMapRef.name), `${where}: ConfigMap ${source.configMapRef.name}`);
        }
        for (const mount of container.volumeMounts ?? []) {
          assert.ok(
            (pod.volumes ?? []).some((volume: Json) => volume.name === mount.name),
            `${where}: volume ${mount.name} exists`,
          );
        }
      }
    }
  });

  test('the gateway asks for a GPU and probes /health (startup, liveness) and /ready (readiness)', () => {
    assert.equal(String(gatewayContainer.resources?.limits?.['nvidia.com/gpu']), '1');
    const port = gatewayContainer.ports.find((candidate: Json) => candidate.containerPort === 8080);
    assert.ok(port, 'container port 8080');
    const probes = { startupProbe: '/health', livenessProbe: '/health', readinessProbe: '/ready' } as const;
    for (const [probe, probePath] of Object.entries(probes)) {
      const httpGet = gatewayContainer[probe]?.httpGet as Json;
      assert.equal(httpGet?.path, probePath, `${probe} path`);
      assert.ok(httpGet.port === port.name || httpGet.port === port.containerPort, `${probe} port`);
    }
    const startup = gatewayContainer.startupProbe as Json;
    assert.ok(startup.periodSeconds * startup.failureThreshold >= 300, 'the startup probe allows at least 5 minutes for model loading');
  });

  test('the ConfigMap holds a valid config.toml that the pod reads from a folder mount, with its key from the Secret', () => {
    const source = configMap?.data?.['config.toml'] as string;
    assert.ok(source, 'ConfigMap switchyard-config has config.toml');
    const configPath = gatewayContainer.env.find((variable: Json) => variable.name === 'SWITCHYARD_CONFIG')?.value ?? '/etc/switchyard/config.toml';
    const volume = gatewayPod.volumes.find((candidate: Json) => candidate.configMap?.name === 'switchyard-config');
    const mount = gatewayContainer.volumeMounts.find((candidate: Json) => candidate.name === volume.name);
    assert.equal(mount.mountPath, path.posix.dirname(configPath), "the ConfigMap is mounted at the config file's folder");
    assert.equal(mount.subPath, undefined, 'no subPath: a subPath mount never sees ConfigMap edits');
    assert.equal(path.posix.basename(configPath), 'config.toml');

    const secrets = Object.fromEntries(
      gatewayContainer.env
        .filter((variable: Json) => variable.valueFrom?.secretKeyRef)
        .map((variable: Json) => {
          const ref = variable.valueFrom.secretKeyRef;
          const target = find('Secret', ref.name) as Json;
          const value = target.stringData?.[ref.key] ?? Buffer.from(target.data[ref.key], 'base64').toString('utf8');
          return [variable.name, value];
        }),
    );
    const loaded = parseWithSecrets(source, configPath, secrets);
    const api = loaded.config.api;
    assert.equal(api.address, '0.0.0.0:8080');
    assert.equal(api.require_auth, true);
    assert.ok(api.api_key_env && api.api_key_env in secrets, `api_key_env ${api.api_key_env} is set from a Secret`);
  });

  test('terminationGracePeriodSeconds covers the preStop pause and shutdown_grace', () => {
    const loaded = parseWithSecrets(configMap.data['config.toml'], 'config.toml', { SWITCHYARD_API_KEY: 'sk-kubernetes-test-key' });
    const graceSeconds = (loaded.config.api as { shutdown_grace?: number }).shutdown_grace ?? 30;
    const preStop = gatewayContainer.lifecycle?.preStop?.exec?.command as string[] | undefined;
    const preStopSeconds = preStop?.[0] === 'sleep' ? Number(preStop[1]) : (gatewayContainer.lifecycle?.preStop?.sleep?.seconds ?? 0);
    const termination = gatewayPod.terminationGracePeriodSeconds as number;
    assert.ok(
      termination > preStopSeconds + graceSeconds,
      `terminationGracePeriodSeconds ${termination} > preStop ${preStopSeconds} + shutdown_grace ${graceSeconds}`,
    );
  });

  test('replicas share limits through the Redis Service, which only gateway pods may reach', () => {
    const loaded = parseWithSecrets(configMap.data['config.toml'], 'config.toml', { SWITCHYARD_API_KEY: 'sk-kubernetes-test-key' });
    const limits = loaded.config.api.rate_limit;
    assert.equal(limits.store, 'redis');
    const url = new URL(limits.redis_url ?? '');
    const service = find('Service', url.hostname.split('.')[0]);
    assert.ok(service, `redis_url names the Service ${url.hostname}`);
    assert.ok(
      service.spec.ports.some((port: Json) => port.port === Number(url.port || 6379)),
      'on its port',
    );
    const redisLabels = deployments.find((deployment) => matches(service.spec.selector, deployment.spec.template.metadata.labels))?.spec.template.metadata
      .labels;
    const policy = objects.find((object) => object.kind === 'NetworkPolicy' && matches(object.spec.podSelector.matchLabels, redisLabels));
    assert.ok(policy, 'a NetworkPolicy guards the Redis pods');
    const allowed = policy.spec.ingress.flatMap((rule: Json) => rule.from ?? []);
    assert.ok(
      allowed.some((peer: Json) => peer.podSelector && matches(peer.podSelector.matchLabels, gateway.spec.template.metadata.labels)),
      'the gateway pods are allowed in',
    );
  });

  test('the PodDisruptionBudget and the HorizontalPodAutoscaler target the gateway', () => {
    const budget = objects.find((object) => object.kind === 'PodDisruptionBudget') as Json;
    assert.ok(matches(budget.spec.selector.matchLabels, gateway.spec.template.metadata.labels), 'the budget selects the gateway pods');
    assert.ok(!matches(budget.spec.selector.matchLabels, find('Deployment', 'switchyard-redis')?.spec.template.metadata.labels), 'and not Redis');
    const autoscaler = objects.find((object) => object.kind === 'HorizontalPodAutoscaler') as Json;
    assert.deepEqual(
      { apiVersion: autoscaler.spec.scaleTargetRef.apiVersion, kind: autoscaler.spec.scaleTargetRef.kind, name: autoscaler.spec.scaleTargetRef.name },
      { apiVersion: gateway.apiVersion, kind: 'Deployment', name: gateway.metadata.name },
    );
    assert.ok(autoscaler.spec.minReplicas <= autoscaler.spec.maxReplicas);
    for (const metric of autoscaler.spec.metrics) {
      if (metric.type === 'Resource') {
        assert.ok(gatewayContainer.resources?.requests?.[metric.resource.name], `a ${metric.resource.name} request, which utilization is measured against`);
      }
    }
  });
});
