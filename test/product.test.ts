import test from 'ava'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { PRODUCT_FILE, ProductError, loadProduct, validateProduct } from '../scripts/lib/product.ts'

const raw = () => parse(readFileSync(PRODUCT_FILE, 'utf8'))

test('the product definition loads, with the port map of the reference', (t) => {
  const p = loadProduct()
  t.is(p.name, 'datadog-fips-proxy')
  t.is(p.paths.prefix, '/opt/datadog-fips-proxy')
  t.is(p.paths.embedded, '/opt/datadog-fips-proxy/embedded')
  t.is(p.paths.configDir, '/etc/datadog-fips-proxy')
  t.is(p.ports.rangeStart, 9803)
  t.is(p.ports.rangeEnd, 9818)
  t.deepEqual(p.ports.services.map((s) => s.port), Array.from({ length: 16 }, (_, i) => 9803 + i))
  const byPort = Object.fromEntries(p.ports.services.map((s) => [s.port, s]))
  t.is(byPort[9803].kind, 'stats')
  t.is(byPort[9804].upstream, 'metrics.agent.ddog-gov.com')
  t.is(byPort[9810].upstream, 'dbm-metrics-intake.ddog-gov.com')
  t.is(byPort[9808].upstream, 'agent-http-intake.logs.ddog-gov.com')
  t.is(byPort[9814].kind, 'reserved')
  t.true(p.ports.services.filter((s) => s.kind === 'relay').every((s) => s.upstream!.endsWith('.ddog-gov.com')))
  t.deepEqual(p.architectures.map((a) => a.name), ['x86_64', 'aarch64'])
})

// Each case breaks one field of the real file and expects an error that names that field.
const badFields: [string, (d: any) => void, RegExp][] = [
  ['missing name', (d) => delete d.name, /: name: expected a non-empty string/],
  ['invalid package name', (d) => (d.name = 'Datadog FIPS'), /: name: 'Datadog FIPS' does not match/],
  ['version not semver', (d) => (d.version = '1.2'), /version: '1.2' is not a semantic version/],
  ['pre-release dpkg and rpm cannot order', (d) => (d.version = '1.2.0-rc10'), /version: '1\.2\.0-rc10': pre-release 'rc10' must be one of/],
  ['release iteration zero', (d) => (d.release.iteration = 0), /release\.iteration: 0 is outside 1\.\.9999/],
  ['relative prefix', (d) => (d.paths.prefix = 'opt/x'), /paths\.prefix: 'opt\/x' does not match/],
  ['port range start not a number', (d) => (d.ports.range_start = '9803'), /ports\.range_start: expected an integer, got string "9803"/],
  ['port out of range', (d) => (d.ports.range_start = 70000), /ports\.range_start: 70000 is outside 1024\.\.65520/],
  ['service count differs from range size', (d) => d.ports.services.pop(), /ports\.services: 15 services for ports\.range_size 16/],
  ['offset gap', (d) => (d.ports.services[5].offset = 6), /ports\.services\[5\]\.offset: expected 5/],
  ['upstream outside the site', (d) => (d.ports.services[1].upstream = 'intake.datadoghq.com'), /ports\.services\[1\]\.upstream: 'intake\.datadoghq\.com' is not a host in the site ddog-gov\.com/],
  ['route outside the site', (d) => (d.ports.services[1].routes[0].upstream = 'api.datadoghq.eu'), /ports\.services\[1\]\.routes\[0\]\.upstream: 'api\.datadoghq\.eu' is not a host/],
  ['Agent request without a method', (d) => (d.ports.services[1].agent_requests[0] = '/api/v2/series'), /ports\.services\[1\]\.agent_requests\[0\]: expected a string matching .*got string "\/api\/v2\/series"/],
  ['relay without the Agent\'s requests', (d) => delete d.ports.services[2].agent_requests, /ports\.services\[2\]\.agent_requests: /],
  ['Agent requests on the stats port', (d) => (d.ports.services[0].agent_requests = ['GET /']), /ports\.services\[0\]\.agent_requests: must not be set/],
  ['agent_tls on the stats port', (d) => (d.ports.services[0].agent_tls = 'TLS'), /ports\.services\[0\]\.agent_tls: must not be set/],
  ['agent_tls that would break the log-format', (d) => (d.ports.services[10].agent_tls = 'a "quoted" 100%'), /ports\.services\[10\]\.agent_tls: 'a "quoted" 100%' does not match/],
  ['agent_tls on a port that routes paths', (d) => (d.ports.services[1].agent_tls = 'TLS'), /ports\.services\[1\]\.routes: a service with agent_tls cannot route paths/],
  ['relay without upstream', (d) => delete d.ports.services[2].upstream, /ports\.services\[2\]\.upstream: expected a non-empty string/],
  ['stats with an upstream', (d) => (d.ports.services[0].upstream = 'x.ddog-gov.com'), /ports\.services\[0\]\.upstream: must not be set/],
  ['unknown kind', (d) => (d.ports.services[3].kind = 'proxy'), /ports\.services\[3\]\.kind: expected one of stats, relay, reserved/],
  ['duplicate service name', (d) => (d.ports.services[4].name = 'metrics'), /ports\.services\[\]\.name: 'metrics' appears twice/],
  ['two stats listeners', (d) => (d.ports.services[11] = { ...d.ports.services[0], offset: 11, name: 'stats2' }), /exactly one service of kind 'stats'/],
  ['unknown architecture', (d) => (d.architectures[1].name = 'armhf'), /architectures\[1\]\.name: 'armhf' does not match/],
  ['duplicate architecture', (d) => (d.architectures[1].name = 'x86_64'), /architectures: 'x86_64' appears twice/],
  ['unsupported distro family', (d) => (d.targets[0].family = 'arch'), /targets\[0\]\.family: expected one of/],
  ['glibc floor malformed', (d) => (d.glibc_floor = 2.17), /glibc_floor: expected a non-empty string, got number 2\.17/],
  ['maintainer without e-mail', (d) => (d.maintainer = 'Someone'), /maintainer: 'Someone' does not match/],
]

for (const [name, mutate, expected] of badFields) {
  test(`a bad field is rejected with its name: ${name}`, (t) => {
    const doc = raw()
    mutate(doc)
    const err = t.throws(() => validateProduct(doc, 'product.yaml'), { instanceOf: ProductError })
    t.regex(err!.message, expected)
  })
}

test('a document that is not a mapping is rejected', (t) => {
  t.throws(() => validateProduct(['a'], 'product.yaml'), { message: /product\.yaml: \(top level\): the document must be a mapping/ })
})
