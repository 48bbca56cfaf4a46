// The self-check's compliance report (datadog-fips-proxy-check --compliance), from datadog.yaml
// alone: the packaged script (the .deb of dist/, unpacked) on the FIXTURE Agent example made into a
// FIPS datadog.yaml by the install script's own create_agent_config (sourced with
// DD_INSTALL_SCRIPT_LIB=1), then on variants of it that turn products on and off. Also the install
// script's half of fips.local_address: the proxy's environment file gets the Agent's address.
import test from 'ava'
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { repoRoot } from '../scripts/lib/paths.ts'
import { loadProduct, selfCheckPath } from '../scripts/lib/product.ts'
import { installScript } from './helpers/dist.ts'
import { unpackedPackage } from './helpers/relay-lab.ts'

const product = loadProduct()
const EXAMPLE = path.join(repoRoot, 'test', 'fixtures', 'datadog-agent', 'datadog.yaml.example')
const work = mkdtempSync(path.join(os.tmpdir(), 'compliance-'))
const port = (name: string, start = product.ports.rangeStart) => start + product.ports.services.find((s) => s.name === name)!.offset
let counter = 0

// Runs the install script's functions (a shell snippet) with the script's variables for a FIPS
// install whose /etc/datadog-agent is directory `dir` (datadog.yaml there, made from the FIXTURE
// example): in a private mount namespace, /etc gets an overlay and that directory bound on it, so
// the script's own paths and user are used and the host's /etc is left alone.
async function installLib(snippet: string, dir: string) {
  const vars = [
    `workdir=${dir}`, 'api_key=0123456789abcdef0123456789abcdef', 'fips_mode=true', `site=${product.site}`, 'no_agent_install=false', 'tags=', 'dd_url=',
    `port_start=${product.ports.rangeStart}`, `proxy_env_file=${dir}/env`, 'changed=false',
  ].join('; ')
  const layers = mkdtempSync(path.join(work, 'etc-'))
  const script = [
    'set -e',
    `mkdir ${layers}/upper ${layers}/work`,
    `mount -t overlay overlay -o lowerdir=/etc,upperdir=${layers}/upper,workdir=${layers}/work /etc`,
    `mkdir -p ${product.agent.configDir}`,
    // The file is the Agent's user's, as on a host (the overlay takes the new user).
    `getent passwd ${product.user} >/dev/null || useradd -r -U ${product.user}`,
    `mount --bind ${dir} ${product.agent.configDir}`,
    `. ${installScript}`,
    vars,
    snippet,
  ].join('\n')
  return $({ quiet: true, nothrow: true, env: { ...process.env, DD_INSTALL_SCRIPT_LIB: '1' } })`unshare --mount --propagation private bash -c ${script}`
}

// A default FIPS datadog.yaml, as a FIPS install makes it from the Agent's example; `edit` then
// appends or replaces lines.
async function fipsYaml(edit: (yaml: string) => string = (y) => y): Promise<string> {
  const dir = mkdtempSync(path.join(work, 'host-'))
  copyFileSync(EXAMPLE, path.join(dir, 'datadog.yaml.example'))
  const made = await installLib('create_agent_config', dir)
  if (made.exitCode !== 0) throw new Error(`create_agent_config: ${made.stdout}${made.stderr}`)
  const file = path.join(dir, `datadog-${counter++}.yaml`)
  writeFileSync(file, edit(readFileSync(path.join(dir, 'datadog.yaml'), 'utf8')))
  return file
}

async function compliance(file: string, ...args: string[]) {
  const check = path.join(await unpackedPackage(), selfCheckPath(product))
  const r = await $({ quiet: true, nothrow: true })`${check} --compliance --datadog-yaml ${file} ${args}`
  return { code: r.exitCode, out: r.stdout, err: r.stderr }
}

// The line of product `name`: its status and detail.
const line = (out: string, name: string) => {
  const found = out.split('\n').find((l) => l.slice(8).startsWith(`${name} `))
  return found ? { status: found.slice(0, 8).trim(), detail: found.slice(8 + 27) } : undefined
}

test('a default FIPS datadog.yaml: through the proxy or off, but container lifecycle and images go directly', async (t) => {
  const r = await compliance(await fipsYaml())
  t.log(r.out)
  t.is(r.code, 1, r.out + r.err)
  t.deepEqual(line(r.out, 'metrics'), { status: 'FIPS', detail: `through ${product.name}, port ${port('metrics')} (always on)` })
  t.deepEqual(line(r.out, 'APM traces'), { status: 'FIPS', detail: `through ${product.name}, port ${port('traces')} (apm_config.enabled: true by default)` })
  t.is(line(r.out, 'logs')?.status, 'OFF')
  t.is(line(r.out, 'instrumentation telemetry')?.status, 'REFUSED')
  t.regex(line(r.out, 'instrumentation telemetry')!.detail, new RegExp(`^sent as TLS to port ${port('instrumentation-telemetry')}, which ${product.name} refuses`))
  // Without a site, what leaves directly goes to the Agent's default site.
  t.deepEqual(line(r.out, 'container lifecycle'), { status: 'DIRECT', detail: `sent directly to contlcycle-intake.ddog-gov.com, without ${product.name} (container_lifecycle.enabled: true by default)` })
  t.is(line(r.out, 'container images')?.status, 'DIRECT')
  t.deepEqual(line(r.out, 'Remote Configuration'), { status: 'OFF', detail: 'remote_configuration.enabled unset: off with fips.enabled' })
  for (const off of ['SBOM', 'Network Path', 'SNMP traps', 'NetFlow', 'CWS (runtime security)', 'compliance (CSPM)', 'processes']) t.is(line(r.out, off)?.status, 'OFF', off)
  t.regex(r.out, /^NOT COMPLIANT: sent directly, without the FIPS module: container lifecycle, container images\./m)
  const json = JSON.parse((await compliance(await fipsYaml(), '--json')).out)
  t.false(json.ok)
  t.deepEqual(json.products.filter((p: { status: string }) => p.status === 'DIRECT').map((p: { product: string }) => p.product), ['container lifecycle', 'container images'])
})

test('turning the two direct products off makes the report compliant (exit 0)', async (t) => {
  const r = await compliance(await fipsYaml((y) => `${y}\ncontainer_lifecycle:\n  enabled: false\ncontainer_image:\n  enabled: false # not through the proxy\n`))
  t.is(r.code, 0, r.out)
  t.is(line(r.out, 'container lifecycle')?.detail, 'container_lifecycle.enabled: false')
  t.regex(r.out, /^COMPLIANT: every enabled Agent product of .* goes through datadog-fips-proxy\.$/m)
})

// Each variant: lines appended to the default FIPS datadog.yaml, and the line it must give.
const variants: { name: string; add: string; product: string; status: string; detail: RegExp }[] = [
  { name: 'logs on', add: 'logs_enabled: true', product: 'logs', status: 'FIPS', detail: new RegExp(`^through ${product.name}, port ${port('logs')} \\(logs_enabled: true\\)$`) },
  { name: 'SBOM on', add: 'sbom:\n  enabled: true', product: 'SBOM', status: 'DIRECT', detail: /^sent directly to sbom-intake\.ddog-gov\.com, without .* \(sbom\.enabled: true\)$/ },
  { name: 'Network Path on', add: 'network_path:\n  connections_monitoring:\n    enabled: "yes"', product: 'Network Path', status: 'DIRECT', detail: /^sent directly to netpath-intake\.ddog-gov\.com, .*\(network_path\.connections_monitoring\.enabled: true\)$/ },
  { name: 'Remote Configuration set explicitly', add: 'remote_configuration:\n  enabled: true', product: 'Remote Configuration', status: 'DIRECT', detail: /^sent directly to config\.ddog-gov\.com, .*\(remote_configuration\.enabled: true\)$/ },
  { name: 'CWS on', add: 'runtime_security_config:\n  enabled: true', product: 'CWS (runtime security)', status: 'FIPS', detail: new RegExp(`port ${port('runtime-security')} `) },
  { name: 'NetFlow on', add: 'network_devices:\n  netflow:\n    enabled: true', product: 'NetFlow', status: 'FIPS', detail: new RegExp(`port ${port('network-flows')} `) },
  { name: 'APM off', add: 'apm_config:\n  enabled: false', product: 'APM traces', status: 'OFF', detail: /^apm_config\.enabled: false$/ },
  // The reader goes by indentation: a key of a list item, or inside a block scalar, is not the setting.
  { name: 'a look-alike in a list and a block scalar', add: 'extra:\n  - sbom:\n      enabled: true\nnote: |\n  sbom:\n    enabled: true', product: 'SBOM', status: 'OFF', detail: /^sbom\.enabled: false by default$/ },
]

for (const v of variants) {
  test(`${v.name}: ${v.product} is ${v.status}`, async (t) => {
    const r = await compliance(await fipsYaml((y) => `${y}\n${v.add}\n`))
    const l = line(r.out, v.product)
    t.is(l?.status, v.status, r.out)
    t.regex(l!.detail, v.detail)
    t.is(r.code, r.out.split('\n').some((x) => x.startsWith('DIRECT ')) ? 1 : 0)
  })
}

test('a moved range moves the ports the report names', async (t) => {
  const start = product.ports.rangeStart + 1000
  const r = await compliance(await fipsYaml((y) => y.replace(/^( +port_range_start:) \d+/m, `$1 ${start}`)))
  t.is(line(r.out, 'metrics')?.detail, `through ${product.name}, port ${port('metrics', start)} (always on)`)
})

test('fips.enabled not true: everything enabled goes directly', async (t) => {
  const r = await compliance(await fipsYaml((y) => y.replace(/^( +enabled:) true/m, '$1 false')))
  t.is(r.code, 1)
  t.deepEqual(line(r.out, 'metrics'), { status: 'DIRECT', detail: 'sent directly to ddog-gov.com: fips.enabled is false (always on)' })
  t.is(line(r.out, 'APM traces')?.status, 'DIRECT')
  t.is(line(r.out, 'DBM')?.status, 'MAYBE')
  t.is(line(r.out, 'logs')?.status, 'OFF')
  t.is(line(r.out, 'Remote Configuration')?.status, 'DIRECT')
})

test('an unreadable datadog.yaml is a usage error (exit 2), not a verdict', async (t) => {
  const r = await compliance(path.join(work, 'missing.yaml'))
  t.is(r.code, 2)
  t.regex(r.err, /missing\.yaml is not readable/)
})

// fips.local_address: the install script gives the proxy the Agent's address; the default
// (localhost, or no setting) writes none, so the proxy keeps 127.0.0.1.
for (const [address, written] of [['"::1"', '::1'], ['"[::1]"', '::1'], ['127.0.0.2', '127.0.0.2'], ['localhost', undefined], [undefined, undefined]] as const) {
  test(`fips.local_address ${address ?? 'unset'}: the proxy's environment file ${written ? `has DD_FIPS_LOCAL_ADDRESS=${written}` : 'has no address'}`, async (t) => {
    const file = await fipsYaml((y) => (address ? y.replace(/^fips:\n/m, `fips:\n  local_address: ${address}\n`) : y))
    const dir = path.dirname(file)
    copyFileSync(file, path.join(dir, 'datadog.yaml'))
    const r = await installLib('write_proxy_environment', dir)
    t.is(r.exitCode, 0, r.stdout + r.stderr)
    const env = readFileSync(path.join(dir, 'env'), 'utf8')
    t.regex(env, new RegExp(`^DD_FIPS_PORT_RANGE_START=${product.ports.rangeStart}$`, 'm'))
    t.deepEqual(env.split('\n').filter((l) => l.startsWith('DD_FIPS_LOCAL_ADDRESS=')), written ? [`DD_FIPS_LOCAL_ADDRESS=${written}`] : [])
  })
}
