// What the container platforms need to run the image, generated from the product definition so
// that they never drift from its ports: the Datadog Helm chart's values for its FIPS sidecar (EKS),
// the Datadog Operator's DatadogAgent with the same, and ECS task definition fragments (EC2 and Fargate) with the Agent and the proxy side by side. The
// packaging/README.md shows them; test/docs.test.ts checks that they are what this generates.
import type { RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { stringify } from 'yaml'
import { healthcheckPath } from './image.ts'
import type { Product } from './product.ts'

// Where the operator pushed the image: the one value the files cannot know.
export const REGISTRY_PLACEHOLDER = '<your-registry>'

export function helmValues(p: Product): string {
  const values = {
    fips: {
      enabled: true,
      // repository overrides the chart's registry + image name; a digest would take precedence over the tag.
      image: { repository: `${REGISTRY_PLACEHOLDER}/${p.image.name}`, tag: p.version },
      // The Agent talks plain HTTP to the sidecar; the sidecar does the FIPS TLS.
      use_https: false,
      local_address: '127.0.0.1',
      port: p.ports.rangeStart,
      // The chart counts the ports after the first.
      portRange: p.ports.rangeSize - 1,
    },
  }
  return `# Helm values for the Datadog chart's FIPS sidecar (${p.name} ${p.version}), from make image.\n${stringify(values)}`
}

// The Datadog Operator's DatadogAgent (v2alpha1, global.fips: FIPSConfig in its api/ package); the
// Operator counts the ports after the first, as the chart does.
export function operatorSpec(p: Product): string {
  const agent = {
    apiVersion: 'datadoghq.com/v2alpha1',
    kind: 'DatadogAgent',
    metadata: { name: 'datadog' },
    spec: {
      global: {
        site: p.site,
        fips: {
          enabled: true,
          // name with a registry overrides the Operator's registry + image name.
          image: { name: `${REGISTRY_PLACEHOLDER}/${p.image.name}`, tag: p.version },
          localAddress: '127.0.0.1',
          port: p.ports.rangeStart,
          portRange: p.ports.rangeSize - 1,
          useHTTPS: false,
        },
      },
    },
  }
  return `# DatadogAgent for the Datadog Operator's FIPS sidecar (${p.name} ${p.version}), from make image.\n${stringify(agent)}`
}

// ECS launch types. EC2: the proxy read-only with a tmpfs on the writable dir. Fargate has no tmpfs
// (linuxParameters.tmpfs is refused there): the writable dir is the image's own, on the
// container's writable root.
export type EcsLaunchType = 'EC2' | 'FARGATE'

// A fragment of the operator's task definition (it has the family, roles and the Agent's own
// settings): typed as what RegisterTaskDefinition takes, so that a field ECS does not know, or a
// value it refuses (a network mode, a dependency condition), fails `tsc`.
export type EcsTaskFragment = Omit<RegisterTaskDefinitionCommandInput, 'family'>

export function ecsTaskDefinition(p: Product, launchType: EcsLaunchType): string {
  const range = [
    { name: 'DD_FIPS_PORT_RANGE_START', value: String(p.ports.rangeStart) },
    { name: 'DD_FIPS_LOCAL_ADDRESS', value: '127.0.0.1' },
  ]
  const writableDir = launchType === 'EC2'
    // fipsmodule.cnf is generated at each start: the one writable place.
    ? { readonlyRootFilesystem: true, linuxParameters: { tmpfs: [{ containerPath: p.image.writableDir, size: 16 }] } }
    : {}
  const task: EcsTaskFragment = {
    // awsvpc: the containers of the task share one network namespace, so 127.0.0.1, where the
    // proxy listens and the only kind of address the Agent accepts for it. (bridge gives each
    // container a loopback of its own.) Fargate has awsvpc only.
    networkMode: 'awsvpc',
    // Fargate sizes the task, not the containers; the smallest size holds the Agent and the proxy.
    ...(launchType === 'FARGATE' ? { requiresCompatibilities: ['FARGATE'], cpu: '512', memory: '1024' } : {}),
    containerDefinitions: [
      {
        name: 'datadog-agent',
        image: `${REGISTRY_PLACEHOLDER}/datadog/agent:7`,
        essential: true,
        environment: [
          { name: 'DD_SITE', value: p.site },
          { name: 'DD_FIPS_ENABLED', value: 'true' },
          range[0],
          { name: 'DD_FIPS_HTTPS', value: 'false' },
          range[1],
        ],
        dependsOn: [{ containerName: p.image.name, condition: 'HEALTHY' }],
      },
      {
        name: p.image.name,
        image: `${REGISTRY_PLACEHOLDER}/${p.image.name}:${p.version}`,
        essential: true,
        user: `${p.image.uid}:${p.image.gid}`,
        ...writableDir,
        portMappings: p.ports.services.map((s) => ({ containerPort: s.port, protocol: 'tcp' })),
        environment: range,
        healthCheck: { command: ['CMD', healthcheckPath(p)], interval: 30, timeout: 5, retries: 3, startPeriod: 10 },
      },
    ],
  }
  return `${readableJson(task)}\n`
}

// JSON as a person writes it: a value that fits in a short line stays on one line.
function readableJson(value: unknown, indent = ''): string {
  const flat = JSON.stringify(value)
  if (flat.length + indent.length <= 96 || value === null || typeof value !== 'object') return flat
  const inner = `${indent}  `
  if (Array.isArray(value)) return `[\n${value.map((v) => inner + readableJson(v, inner)).join(',\n')}\n${indent}]`
  return `{\n${Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${readableJson(v, inner)}`).join(',\n')}\n${indent}}`
}

export const helmValuesFile = (p: Product, outDir: string) => path.join(outDir, `${p.image.name}-${p.version}.helm-values.yaml`)
export const ECS_LAUNCH_TYPES: EcsLaunchType[] = ['EC2', 'FARGATE']
export const ecsTaskDefinitionFile = (p: Product, outDir: string, launchType: EcsLaunchType) =>
  path.join(outDir, `${p.image.name}-${p.version}.ecs-${launchType.toLowerCase()}-task-definition.json`)

export const operatorSpecFile = (p: Product, outDir: string) => path.join(outDir, `${p.image.name}-${p.version}.datadog-agent.yaml`)

export function writePlatformFiles(p: Product, outDir: string): string[] {
  writeFileSync(helmValuesFile(p, outDir), helmValues(p))
  writeFileSync(operatorSpecFile(p, outDir), operatorSpec(p))
  for (const l of ECS_LAUNCH_TYPES) writeFileSync(ecsTaskDefinitionFile(p, outDir, l), ecsTaskDefinition(p, l))
  return [helmValuesFile(p, outDir), operatorSpecFile(p, outDir), ...ECS_LAUNCH_TYPES.map((l) => ecsTaskDefinitionFile(p, outDir, l))]
}
