// Loads and validates packaging/product.yaml, the single source of truth of the product.
// Every error names the offending field by its path (e.g. `ports.services[3].upstream`),
// so that whoever edits the YAML knows exactly what to fix.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'
import { repoRoot } from './paths.ts'
import { Fields, ValidationError, check } from './validate.ts'
import { VersionError, upstreamVersion } from './version.ts'

export const PRODUCT_FILE = path.join(repoRoot, 'packaging', 'product.yaml')

export type ServiceKind = 'stats' | 'relay' | 'reserved'

export interface Route {
  pathPrefix: string
  upstream: string
}

// A request the Agent sends to a relay port: method and path as the Agent's source has them.
export interface AgentRequest {
  method: 'GET' | 'HEAD' | 'POST'
  path: string
}

export interface Service {
  offset: number
  port: number
  name: string
  kind: ServiceKind
  product: string
  agentSetting?: string
  upstream?: string
  routes: Route[]
  agentRequests: AgentRequest[]
  // Why the Agent sends TLS to this plain-HTTP port: such connections are refused and logged.
  agentTls?: string
}

export interface Architecture {
  name: string
  deb: string
  rpm: string
  oci: string
}

export interface PackageFormat {
  id: string
  kind: 'deb' | 'rpm'
  families: string[]
  caBundle: string
  unitDir: string
  // The service's environment file (the family's convention), which the install script writes.
  envFile: string
  depends: string[]
  preDepends: string[]
  rpmGroup?: string
}

export interface ImageDefinition {
  name: string
  uid: number
  gid: number
  base: { suite: string; packages: string[]; dlopened: string[] }
  caBundle: string
  writableDir: string
}

export interface Target {
  family: string
  minVersion: string
}

export interface Product {
  name: string
  version: string
  release: { iteration: number; suseSuffix: string }
  displayName: string
  summary: string
  description: string
  maintainer: string
  vendor: string
  homepage: string
  license: string
  paths: { prefix: string; embedded: string; configDir: string }
  user: string
  group: string
  site: string
  ports: { rangeStart: number; rangeSize: number; rangeEnd: number; services: Service[] }
  glibcFloor: string
  // The oldest Agent (major.minor) that can use the proxy.
  agentMinVersion: { major: number; minor: number }
  agent: { package: string; service: string; configDir: string; logsIntegration: string }
  architectures: Architecture[]
  packages: PackageFormat[]
  repository: { url: string; channel: string; aptKeyring: string; keyFile: string }
  targets: Target[]
  image: ImageDefinition
}

export class ProductError extends ValidationError {}

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/
const SERVICE_NAME = /^[a-z][a-z0-9-]*$/
const ABSOLUTE_PATH = /^\/[A-Za-z0-9._/-]+[^/]$/
const HOSTNAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/
const SYSTEM_NAME = /^[a-z_][a-z0-9_-]*$/
const FAMILIES = ['debian', 'ubuntu', 'rhel', 'suse']
const KINDS: ServiceKind[] = ['stats', 'relay', 'reserved']
// Every range, the default and a moved one, stays above the privileged ports: the proxy runs as
// the Agent's user.
export const PORT_RANGE_MIN = 1024

export function loadProduct(file = PRODUCT_FILE): Product {
  let raw: unknown
  try {
    raw = parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new ProductError(`${file}: not valid YAML: ${(err as Error).message}`)
  }
  return validateProduct(raw, file)
}

export function validateProduct(raw: unknown, source = 'product definition'): Product {
  const f = new Fields(raw, source, ProductError)
  const site = f.str('site', HOSTNAME)
  const prefix = f.str('paths.prefix', ABSOLUTE_PATH)
  const rangeSize = f.int('ports.range_size', 1, 64)
  const rangeStart = f.int('ports.range_start', PORT_RANGE_MIN, 65536 - rangeSize)
  const product: Product = {
    name: f.str('name', PACKAGE_NAME),
    version: f.str('version'),
    release: { iteration: f.int('release.iteration', 1, 9999), suseSuffix: f.str('release.suse_suffix', /^\.[a-z0-9]+$/) },
    displayName: f.str('display_name'),
    summary: f.str('summary'),
    description: f.str('description'),
    maintainer: f.str('maintainer', /^.+ <[^@\s]+@[^@\s]+>$/),
    vendor: f.str('vendor'),
    homepage: f.str('homepage', /^https:\/\//),
    license: f.str('license'),
    paths: { prefix, embedded: `${prefix}/embedded`, configDir: f.str('paths.config_dir', ABSOLUTE_PATH) },
    user: f.str('user', SYSTEM_NAME),
    group: f.str('group', SYSTEM_NAME),
    site,
    ports: {
      rangeStart,
      rangeSize,
      rangeEnd: rangeStart + rangeSize - 1,
      services: f.list('ports.services').map((s) => validateService(s, rangeStart, site)),
    },
    glibcFloor: f.str('glibc_floor', /^2\.\d+$/),
    agentMinVersion: (([major, minor]) => ({ major: Number(major), minor: Number(minor) }))(f.str('agent_min_version', /^\d+\.\d+$/).split('.')),
    architectures: f.list('architectures').map((a) => ({
      name: a.str('name', /^(x86_64|aarch64)$/),
      deb: a.str('deb', /^[a-z0-9]+$/),
      rpm: a.str('rpm', /^[a-z0-9_]+$/),
      oci: a.oneOf('oci', ['amd64', 'arm64']),
    })),
    packages: f.list('packages').map((p) => ({
      id: p.str('id', /^[a-z][a-z0-9-]*$/),
      kind: p.oneOf('kind', ['deb', 'rpm'] as const),
      families: p.strings('families', new RegExp(`^(${FAMILIES.join('|')})$`)),
      caBundle: p.str('ca_bundle', ABSOLUTE_PATH),
      unitDir: p.str('unit_dir', ABSOLUTE_PATH),
      envFile: p.str('env_file', ABSOLUTE_PATH),
      depends: p.get('depends') === undefined ? [] : p.strings('depends', PACKAGE_NAME),
      preDepends: p.get('pre_depends') === undefined ? [] : p.strings('pre_depends', PACKAGE_NAME),
      rpmGroup: p.optionalStr('rpm_group'),
    })),
    agent: {
      package: f.str('agent.package', PACKAGE_NAME),
      service: f.str('agent.service', SERVICE_NAME),
      configDir: f.str('agent.config_dir', ABSOLUTE_PATH),
      logsIntegration: f.str('agent.logs_integration', SYSTEM_NAME),
    },
    repository: {
      url: f.str('repository.url', /^https?:\/\/[^\s'"]+[^/]$/),
      channel: f.str('repository.channel', /^[a-z0-9-]+$/),
      aptKeyring: f.str('repository.apt_keyring', ABSOLUTE_PATH),
      keyFile: f.str('repository.key_file', /^[A-Za-z0-9._-]+$/),
    },
    targets: f.list('targets').map((t) => ({
      family: t.oneOf('family', FAMILIES),
      minVersion: t.str('min_version', /^\d+(\.\d+)?$/),
    })),
    image: {
      name: f.str('image.name', PACKAGE_NAME),
      // Not root, not a system account of the base, and what Kubernetes' runAsNonRoot accepts.
      uid: f.int('image.uid', 1000, 65533),
      gid: f.int('image.gid', 1000, 65533),
      base: {
        suite: f.str('image.base.suite', /^[a-z]+$/),
        packages: f.strings('image.base.packages', PACKAGE_NAME),
        dlopened: f.get('image.base.dlopened') === undefined ? [] : f.strings('image.base.dlopened', /^[A-Za-z0-9._+-]+\.so(\.\d+)*$/),
      },
      caBundle: f.str('image.ca_bundle', ABSOLUTE_PATH),
      writableDir: f.str('image.writable_dir', ABSOLUTE_PATH),
    },
  }
  try {
    upstreamVersion(product.version)
  } catch (err) {
    if (err instanceof VersionError) throw new ProductError(`${source}: version: ${err.message}`)
    throw err
  }
  checkPortMap(product, source)
  checkUnique(product.architectures.map((a) => a.name), `${source}: architectures`)
  checkUnique(product.packages.map((p) => p.id), `${source}: packages`)
  for (const t of product.targets) {
    check(product.packages.some((p) => p.families.includes(t.family)), ProductError, `${source}: targets: no package in 'packages' serves the family '${t.family}'`)
  }
  return product
}

function validateService(s: Fields, rangeStart: number, site: string): Service {
  const kind = s.oneOf('kind', KINDS) as ServiceKind
  const offset = s.int('offset', 0, 63)
  const inSite = new RegExp(`^([a-z0-9-]+\\.)+${site.replace(/\./g, '\\.')}$`)
  const upstream = kind === 'relay' ? s.str('upstream', HOSTNAME) : s.absent('upstream', `only relay services have an upstream`)
  if (upstream !== undefined) s.require(inSite.test(upstream), 'upstream', `'${upstream}' is not a host in the site ${site}`)
  const routes = s.optionalList('routes').map((r) => {
    const route = { pathPrefix: r.str('path_prefix', /^\/[A-Za-z0-9/_.-]*$/), upstream: r.str('upstream', HOSTNAME) }
    r.require(inSite.test(route.upstream), 'upstream', `'${route.upstream}' is not a host in the site ${site}`)
    return route
  })
  const agentRequests = kind === 'relay'
    ? s.strings('agent_requests', /^(GET|HEAD|POST) \/[A-Za-z0-9/_.?=-]*$/).map((r) => {
      const [method, path] = r.split(' ')
      return { method: method as AgentRequest['method'], path }
    })
    : (s.absent('agent_requests', 'only relay services receive Agent requests'), [])
  // The refusal's log line quotes it inside HAProxy's log-format: no % nor quote.
  const agentTls = kind === 'relay' ? s.optionalStr('agent_tls', /^[A-Za-z0-9 ,.()'_:-]+$/) : s.absent('agent_tls', 'only relay services receive Agent traffic')
  // Its listener inspects bytes before HTTP (a TCP frontend): paths cannot be routed there.
  if (agentTls !== undefined) s.require(routes.length === 0, 'routes', 'a service with agent_tls cannot route paths')
  return {
    offset,
    port: rangeStart + offset,
    name: s.str('name', SERVICE_NAME),
    kind,
    product: s.str('product'),
    agentSetting: s.optionalStr('agent_setting', /^[a-z_.]+$/),
    upstream,
    routes,
    agentRequests,
    agentTls,
  }
}

// The Agent derives every port from range_start + offset, so the map must cover the range
// exactly: one service per offset, no gap, no overlap, and exactly one stats listener.
function checkPortMap(product: Product, source: string): void {
  const { services, rangeSize } = product.ports
  const where = `${source}: ports.services`
  check(services.length === rangeSize, ProductError, `${where}: ${services.length} services for ports.range_size ${rangeSize}`)
  services.forEach((s, i) =>
    check(s.offset === i, ProductError, `${where}[${i}].offset: expected ${i} (offsets must run 0..${rangeSize - 1} in order), got ${s.offset}`),
  )
  checkUnique(services.map((s) => s.name), `${where}[].name`)
  const stats = services.filter((s) => s.kind === 'stats').length
  check(stats === 1, ProductError, `${where}: exactly one service of kind 'stats' is needed, found ${stats}`)
}

function checkUnique(values: string[], where: string): void {
  const seen = new Set<string>()
  for (const v of values) {
    check(!seen.has(v), ProductError, `${where}: '${v}' appears twice`)
    seen.add(v)
  }
}

export function architecture(product: Product, name: string): Architecture {
  const arch = product.architectures.find((a) => a.name === name)
  if (!arch) throw new ProductError(`unknown architecture '${name}' (product.yaml lists: ${product.architectures.map((a) => a.name).join(', ')})`)
  return arch
}

// Paths and template values derived from the product definition.
export const liveConfig = (p: Product) => `${p.paths.configDir}/${p.name}.cfg`
export const exampleConfig = (p: Product) => `${liveConfig(p)}.example`
// The CA bundle where the vendor's configs look for it: they say `default-path config` and
// `ca-file ca-certificates.crt`, i.e. next to the live config. A config kept from the vendor's
// package or image must keep working with ours, so the packages link it to the family's bundle
// and the image has its bundle there too.
export const configDirCaBundle = (p: Product) => `${p.paths.configDir}/ca-certificates.crt`
export const fipsinstallPath = (p: Product) => `${p.paths.prefix}/bin/fipsinstall`
// HAProxy's launcher: sets every listener's port from DD_FIPS_PORT_RANGE_START.
export const runHaproxyPath = (p: Product) => `${p.paths.prefix}/bin/run-haproxy`
// The self-check an operator runs on a host (and the install script at its end).
export const selfCheckPath = (p: Product) => `${p.paths.prefix}/bin/${p.name}-check`
// The variable run-haproxy sets to a service's port, which the example config binds.
export const portVariable = (s: Service) => `DD_FIPS_PORT_${s.name.toUpperCase().replace(/-/g, '_')}`
export const portRangeMaxStart = (p: Product) => 65536 - p.ports.rangeSize
export const docDir = (p: Product) => `/usr/share/doc/${p.name}`
// The Agent's configuration, and the proxy's logs integration in its conf.d.
export const agentConfig = (p: Product) => `${p.agent.configDir}/datadog.yaml`
export const agentLogsConfig = (p: Product) => `${p.agent.configDir}/conf.d/${p.agent.logsIntegration}.d/conf.yaml`
// datadog.yaml's one reader and editor (packaging/datadog-yaml.awk), as the package ships it.
export const datadogYamlAwkPath = (p: Product) => `${p.paths.prefix}/share/datadog-yaml.awk`

// The values every template of the product may use.
export function templateValues(p: Product): Record<string, string> {
  return {
    NAME: p.name,
    DISPLAY_NAME: p.displayName,
    VERSION: p.version,
    USER: p.user,
    GROUP: p.group,
    PREFIX: p.paths.prefix,
    CONFIG_DIR: p.paths.configDir,
    EMBEDDED: p.paths.embedded,
    LIVE_CONFIG: liveConfig(p),
    FIPSINSTALL: fipsinstallPath(p),
    RUN_HAPROXY: runHaproxyPath(p),
    CHECK: selfCheckPath(p),
    EXAMPLE_CONFIG: exampleConfig(p),
    PORT_START: String(p.ports.rangeStart),
    PORT_COUNT: String(p.ports.rangeSize),
    PORT_MIN: String(PORT_RANGE_MIN),
    PORT_MAX_START: String(portRangeMaxStart(p)),
    AGENT_PACKAGE: p.agent.package,
    AGENT_SERVICE: p.agent.service,
    AGENT_CONFIG_DIR: p.agent.configDir,
    AGENT_CONFIG: agentConfig(p),
    AGENT_LOGS_CONFIG: agentLogsConfig(p),
    DATADOG_YAML_AWK: datadogYamlAwkPath(p),
    HOMEPAGE: p.homepage,
    MAINTAINER: p.maintainer,
    VENDOR: p.vendor,
  }
}
