// The package's self-check (datadog-fips-proxy-check) on a real host: a Debian systemd container
// installed by the install script, with the FIXTURE intake answering as every upstream host
// (installer-host.ts serveFixtureIntake). Every check passes on the healthy host; each fault an
// operator meets is its own test, so that a failing one names its fault: the fault is made to
// happen on a healthy host, the self-check must name it on the right line with a non-zero exit,
// and the host is put back. The tests share a few hosts (onHealthyHost), and run side by side.
import test, { type ExecutionContext } from 'ava'
import { loadProduct, liveConfig, selfCheckPath } from '../scripts/lib/product.ts'
import { PLATFORMS } from './matrix/platforms.ts'
import { type InstallerHost, type ShResult, fipsInstallEnv, serveFixtureIntake, stopFixtureIntakeCommand, withInstallerHost } from './helpers/installer-host.ts'

const product = loadProduct()
const CHECK = selfCheckPath(product)
const LIVE = liveConfig(product)
const relays = product.ports.services.filter((s) => s.kind === 'relay')
const backends = relays.reduce((n, s) => n + 1 + s.routes.length, 0)
const cnf = `${product.paths.embedded}/ssl/fipsmodule.cnf`
const metricsPort = relays[0].port

// Runs the self-check until `done` holds for its result (HAProxy's checks take a few seconds to
// see an intake go down), at most 30 s; the last result.
async function checkUntil(h: InstallerHost, done: (r: { code: number; out: string }) => boolean): Promise<{ code: number; out: string }> {
  let r = await h.sh(CHECK)
  for (let i = 0; i < 60 && !done(r); i++) r = await h.sh(`sleep 0.5; ${CHECK}`)
  return r
}

// The trusted FIXTURE intake, health-checked every second, so that an intake that goes DOWN without
// traffic shows in ~3 s (fall 3): the shipped setting checks a healthy server once a day.
const serveTrustedIntake = (h: InstallerHost) => serveFixtureIntake(h, product, PLATFORMS.deb.trustCa, { checkEvery: '1s' })

// Installs a host in FIPS mode with the FIXTURE intake; throws unless every check then passes.
async function makeHealthy(h: InstallerHost): Promise<void> {
  const install = await h.install(fipsInstallEnv(product))
  if (install.code !== 0) throw new Error(`the install exited ${install.code}:\n${install.out}`)
  const served = await serveTrustedIntake(h)
  if (served.code !== 0) throw new Error(`serving the FIXTURE intake exited ${served.code}: ${served.out}${served.err}`)
  const healthy = await checkUntil(h, (r) => r.code === 0)
  if (healthy.code !== 0) throw new Error(`the self-check fails on the installed host:\n${healthy.out}`)
}

// The tests share HOSTS healthy hosts, each installed once (an install costs far more than a
// fault): a test takes a free host, makes its fault and repairs it; the host serves the next test
// only when every check passes again, else it is removed and a new one installed. So the tests run
// side by side, HOSTS at a time, each from a healthy host, and a failing one names its fault.
const HOSTS = 2
const waiting: { fn: (h: InstallerHost) => Promise<void>; done: (err?: unknown) => void }[] = []
let hosts = 0

function onHealthyHost(fn: (h: InstallerHost) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    waiting.push({ fn, done: (err) => (err === undefined ? resolve() : reject(err)) })
    if (hosts < HOSTS) void serveTests()
  })
}

// One host, running the waiting tests one after another while it stays healthy.
async function serveTests(): Promise<void> {
  hosts++
  try {
    await withInstallerHost(async (h) => {
      await makeHealthy(h)
      for (let next = waiting.shift(); next; next = waiting.shift()) {
        await next.fn(h).then(() => next.done(), (err) => next.done(err ?? new Error('failed')))
        if ((await checkUntil(h, (r) => r.code === 0)).code !== 0) return
      }
    })
  } catch (err) {
    // No healthy host to be had: the next test fails with the reason.
    waiting.shift()?.done(err)
  } finally {
    hosts--
    if (waiting.length) void serveTests()
  }
}

test('every check passes on a healthy host', async (t) => {
  await onHealthyHost(async (h) => {
    const healthy = await h.sh(CHECK)
    t.is(healthy.code, 0, healthy.out)
    const lines = healthy.out.trim().split('\n')
    // INFO lines fail nothing: the Agent's TLS refused on the agent_tls ports, and the products
    // datadog.yaml sends without the proxy (the install script's datadog.yaml leaves container
    // lifecycle and images on, as the Agent's defaults have them).
    const tlsPorts = relays.filter((s) => s.agentTls)
    t.deepEqual(lines.filter((l) => !/^PASS /.test(l)), [
      ...tlsPorts.map((s) => `INFO  port ${s.port}        known limitation: ${s.product} reaches this port as TLS, which the proxy refuses and logs: ${s.agentTls}`),
      'INFO  compliance       sent directly by the Agent, without the FIPS module: container lifecycle, container images',
      'OK: datadog-fips-proxy relays to the intake; the Agent is set to use it.',
    ])
    t.is(lines.length, 5 + backends + tlsPorts.length + 2, 'service, config, fips-module, ports, one line per backend, datadog.yaml, the INFO lines, the verdict')
    t.regex(healthy.out, /^PASS {2}datadog\.yaml +fips\.enabled: true, fips\.https: false, fips\.port_range_start: \d+, fips\.local_address: localhost \(the proxy listens on 127\.0\.0\.1\)$/m)
    t.regex(healthy.out, /^PASS {2}backend datadog-metrics-flare +a server is UP \(127\.0\.0\.2:443\)$/m)
    t.log(`healthy host:\n${healthy.out}`)
    const json = JSON.parse((await h.sh(`${CHECK} --json`)).out)
    t.true(json.ok)
    t.is(json.checks.length, 5 + backends + tlsPorts.length + 1)
  })
})

// A fault: what makes it on a healthy host and what repairs it (shell commands, or steps of their
// own), the line the self-check must print and its exit code; `log` shows the self-check's whole
// output or its FAIL lines.
type Step = string | ((h: InstallerHost) => Promise<ShResult>)
interface Fault {
  make: Step
  line: RegExp
  code: 1 | 3
  repair: Step
  log?: 'output' | 'failures'
}

const run = (h: InstallerHost, step: Step) => (typeof step === 'string' ? h.sh(step) : step(h))

// Makes the fault on a healthy host, checks that the self-check names it, and repairs it.
async function checkNamesFault(t: ExecutionContext, h: InstallerHost, fault: Fault): Promise<void> {
  const made = await run(h, fault.make)
  t.is(made.code, 0, `the fault was made: ${made.out}${made.err}`)
  const r = await checkUntil(h, (c) => fault.line.test(c.out))
  t.regex(r.out, fault.line)
  t.is(r.code, fault.code, `exit ${fault.code}`)
  t.regex(r.out, /^FAILED: \d+ check\(s\)\. Next: ./m, 'a verdict and a next step')
  if (fault.log === 'output') t.log(`failing case:\n${r.out}`)
  if (fault.log === 'failures') t.log(`failing case, its FAIL lines and verdict:\n${r.out.split('\n').filter((l) => /^FAIL/.test(l)).join('\n')}`)
  const repaired = await run(h, fault.repair)
  t.is(repaired.code, 0, `repaired: ${repaired.out}${repaired.err}`)
}

const faultTest = (name: string, fault: Fault) =>
  test(`self-check names ${name}`, async (t) => {
    await onHealthyHost((h) => checkNamesFault(t, h, fault))
  })

faultTest('a stopped proxy', {
  make: `systemctl stop ${product.name}`,
  line: /^FAIL {2}service +datadog-fips-proxy\.service is enabled and inactive$/m,
  code: 1,
  repair: `systemctl start ${product.name}`,
})
faultTest('a missing live config', {
  make: `mv ${LIVE} /root/cfg`,
  line: new RegExp(`^FAIL {2}config +${LIVE} is missing$`, 'm'),
  code: 1,
  repair: `mv /root/cfg ${LIVE}`,
})
faultTest('a live config of the wrong owner and mode', {
  make: `chown root:root ${LIVE} && chmod 644 ${LIVE}`,
  line: /^FAIL {2}config +.*\.cfg is root:root:644, not dd-agent:dd-agent 640$/m,
  code: 1,
  repair: `chown dd-agent:dd-agent ${LIVE} && chmod 640 ${LIVE}`,
})
faultTest('a live config that haproxy -c rejects', {
  make: `cp -p ${LIVE} /root/cfg && echo '    no-such-keyword 1' >> ${LIVE}`,
  line: /^FAIL {2}config +haproxy -c rejects .*no-such-keyword/m,
  code: 1,
  repair: `cp -p /root/cfg ${LIVE}`,
  log: 'output',
})
faultTest('a missing fipsmodule.cnf', {
  make: `mv ${cnf} /root/cnf`,
  line: /^FAIL {2}fips-module +.*fipsmodule\.cnf is missing$/m,
  code: 1,
  repair: `mv /root/cnf ${cnf}`,
})
faultTest('a corrupted fipsmodule.cnf', {
  make: `cp -p ${cnf} /root/cnf && sed -i 's/^\\(module-mac *= *\\).*/\\1DE:AD:BE:EF/' ${cnf}`,
  line: /^FAIL {2}fips-module +.*does not verify against fips\.so/m,
  code: 1,
  repair: `cp -p /root/cnf ${cnf}`,
})
faultTest('a port held by another process', {
  make: `systemctl stop ${product.name} && busybox httpd -p 127.0.0.1:${metricsPort} -h /tmp`,
  line: new RegExp(`^FAIL {2}port ${metricsPort} +${metricsPort} \\(metrics\\) is held by \\d+/busybox, not datadog-fips-proxy$`, 'm'),
  code: 1,
  repair: `pkill -f '^busybox httpd -p 127.0.0.1:${metricsPort}'; systemctl start ${product.name}`,
})
faultTest('an intake that is down', {
  make: stopFixtureIntakeCommand,
  line: /^FAIL {2}backend datadog-metrics +no server UP: DOWN: Layer4 connection problem \(.*Connection refused\) at 127\.0\.0\.2:443 \[mothership1/m,
  code: 3,
  repair: serveTrustedIntake,
  log: 'failures',
})
faultTest('an Agent that sends to another address than the proxy listens on', {
  make: `cp -p ${product.agent.configDir}/datadog.yaml /root/dd && sed -i 's/^fips:.*/&\\n  local_address: "::1"/' ${product.agent.configDir}/datadog.yaml`,
  line: /^FAIL {2}datadog\.yaml +.*fips\.local_address: ::1 \(the proxy listens on 127\.0\.0\.1\)$/m,
  code: 1,
  repair: `cp -p /root/dd ${product.agent.configDir}/datadog.yaml`,
})
faultTest('a datadog.yaml without the fips settings', {
  make: `cp -p ${product.agent.configDir}/datadog.yaml /root/dd && sed -i '/^fips:/,$d' ${product.agent.configDir}/datadog.yaml`,
  line: /^FAIL {2}datadog\.yaml +fips\.enabled: unset, fips\.https: unset, fips\.port_range_start: unset/m,
  code: 1,
  repair: `cp -p /root/dd ${product.agent.configDir}/datadog.yaml`,
})
test('self-check names an intake with an untrusted certificate, and passes again once the intake is trusted', async (t) => {
  await onHealthyHost(async (h) => {
    await checkNamesFault(t, h, {
      make: (host) => serveFixtureIntake(host, product, PLATFORMS.deb.trustCa, { which: 'untrusted', checkEvery: '1s' }),
      line: /^FAIL {2}backend datadog-metrics +no server UP: DOWN: Layer6 invalid response \(TLS handshake failure\).* at 127\.0\.0\.2:443 \[mothership1/m,
      code: 3,
      repair: serveTrustedIntake,
    })
    t.is((await checkUntil(h, (r) => r.code === 0)).code, 0, 'healthy again')
  })
})
