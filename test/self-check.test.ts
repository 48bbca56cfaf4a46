// The package's self-check (datadog-fips-proxy-check) on a real host: a Debian systemd container
// installed by the install script, with the FIXTURE intake answering as every upstream host
// (installer-host.ts serveFixtureIntake). Every check passes on the healthy host; then each fault an
// operator meets is made to happen, and the self-check names it on the right line with a non-zero
// exit, then the host is put back.
import test from 'ava'
import { loadProduct, liveConfig, selfCheckPath } from '../scripts/lib/product.ts'
import { PLATFORMS } from './matrix/platforms.ts'
import { type InstallerHost, addFixtureIntakes, fipsInstallEnv, serveFixtureIntake, stopFixtureIntakeCommand, testRepository, withInstallerHost } from './helpers/installer-host.ts'

const product = loadProduct()
const CHECK = selfCheckPath(product)
const relays = product.ports.services.filter((s) => s.kind === 'relay')
const backends = relays.reduce((n, s) => n + 1 + s.routes.length, 0)
const cnf = `${product.paths.embedded}/ssl/fipsmodule.cnf`
const metricsPort = relays[0].port

test.before(async () => {
  await addFixtureIntakes(await testRepository(), product)
})

// Runs the self-check until `done` holds for its result (HAProxy's checks take a few seconds to
// see an intake go down), at most 30 s; the last result.
async function checkUntil(h: InstallerHost, done: (r: { code: number; out: string }) => boolean): Promise<{ code: number; out: string }> {
  let r = await h.sh(CHECK)
  for (let i = 0; i < 60 && !done(r); i++) r = await h.sh(`sleep 0.5; ${CHECK}`)
  return r
}

test.serial('every check passes on a healthy host; each fault is named on its line, with a non-zero exit', async (t) => {
  await withInstallerHost(async (h) => {
    const install = await h.install(fipsInstallEnv(product))
    t.is(install.code, 0, install.out)
    // Health checks every second here, so that an intake that goes DOWN without traffic shows in ~3 s
    // (fall 3): the shipped setting checks a healthy server once a day.
    const served = await serveFixtureIntake(h, product, PLATFORMS.deb.trustCa, { checkEvery: '1s' })
    t.is(served.code, 0, served.out + served.err)

    const healthy = await checkUntil(h, (r) => r.code === 0)
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
    t.is(json.checks.length, 5 + backends + relays.filter((s) => s.agentTls).length + 1)

    // Each fault: what makes it, the line the self-check must print, its exit code, and the repair.
    const faults: { name: string; make: string; line: RegExp; code: number; repair: string }[] = [
      { name: 'stopped unit', make: `systemctl stop ${product.name}`, line: /^FAIL {2}service +datadog-fips-proxy\.service is enabled and inactive$/m, code: 1, repair: `systemctl start ${product.name}` },
      { name: 'missing live config', make: `mv ${liveConfig(product)} /root/cfg`, line: new RegExp(`^FAIL {2}config +${liveConfig(product)} is missing$`, 'm'), code: 1, repair: `mv /root/cfg ${liveConfig(product)}` },
      { name: 'wrong owner and mode', make: `chown root:root ${liveConfig(product)} && chmod 644 ${liveConfig(product)}`, line: /^FAIL {2}config +.*\.cfg is root:root:644, not dd-agent:dd-agent 640$/m, code: 1, repair: `chown dd-agent:dd-agent ${liveConfig(product)} && chmod 640 ${liveConfig(product)}` },
      { name: 'a config haproxy -c rejects', make: `cp -p ${liveConfig(product)} /root/cfg && echo '    no-such-keyword 1' >> ${liveConfig(product)}`, line: /^FAIL {2}config +haproxy -c rejects .*no-such-keyword/m, code: 1, repair: `cp -p /root/cfg ${liveConfig(product)}` },
      { name: 'missing fipsmodule.cnf', make: `mv ${cnf} /root/cnf`, line: /^FAIL {2}fips-module +.*fipsmodule\.cnf is missing$/m, code: 1, repair: `mv /root/cnf ${cnf}` },
      { name: 'corrupted fipsmodule.cnf', make: `cp -p ${cnf} /root/cnf && sed -i 's/^\\(module-mac *= *\\).*/\\1DE:AD:BE:EF/' ${cnf}`, line: /^FAIL {2}fips-module +.*does not verify against fips\.so/m, code: 1, repair: `cp -p /root/cnf ${cnf}` },
      {
        name: 'a port held by another process',
        make: `systemctl stop ${product.name} && busybox httpd -p 127.0.0.1:${metricsPort} -h /tmp`,
        line: new RegExp(`^FAIL {2}port ${metricsPort} +${metricsPort} \\(metrics\\) is held by \\d+/busybox, not datadog-fips-proxy$`, 'm'),
        code: 1,
        repair: `pkill -f '^busybox httpd -p 127.0.0.1:${metricsPort}'; systemctl start ${product.name}`,
      },
      { name: 'an intake that is down', make: stopFixtureIntakeCommand, line: /^FAIL {2}backend datadog-metrics +no server UP: DOWN: Layer4 connection problem \(.*Connection refused\) at 127\.0\.0\.2:443 \[mothership1/m, code: 3, repair: '' },
      { name: 'an intake with an untrusted certificate', make: '', line: /^FAIL {2}backend datadog-metrics +no server UP: DOWN: Layer6 invalid response \(TLS handshake failure\).* at 127\.0\.0\.2:443 \[mothership1/m, code: 3, repair: '' },
      {
        name: 'the Agent sends to another address than the proxy listens on',
        make: "cp -p /etc/datadog-agent/datadog.yaml /root/dd && sed -i 's/^fips:.*/&\\n  local_address: \"::1\"/' /etc/datadog-agent/datadog.yaml",
        line: /^FAIL {2}datadog\.yaml +.*fips\.local_address: ::1 \(the proxy listens on 127\.0\.0\.1\)$/m,
        code: 1,
        repair: 'cp -p /root/dd /etc/datadog-agent/datadog.yaml',
      },
      { name: 'datadog.yaml without the fips settings', make: "cp -p /etc/datadog-agent/datadog.yaml /root/dd && sed -i '/^fips:/,$d' /etc/datadog-agent/datadog.yaml", line: /^FAIL {2}datadog\.yaml +fips\.enabled: unset, fips\.https: unset, fips\.port_range_start: unset/m, code: 1, repair: 'cp -p /root/dd /etc/datadog-agent/datadog.yaml' },
    ]
    for (const fault of faults) {
      if (fault.name === 'an intake with an untrusted certificate') {
        t.is((await serveFixtureIntake(h, product, PLATFORMS.deb.trustCa, { which: 'untrusted', checkEvery: '1s' })).code, 0)
      } else {
        t.is((await h.sh(fault.make)).code, 0, `${fault.name}: made`)
      }
      const r = await checkUntil(h, (c) => fault.line.test(c.out))
      t.regex(r.out, fault.line, fault.name)
      t.is(r.code, fault.code, `${fault.name}: exit ${fault.code}`)
      t.regex(r.out, /^FAILED: \d+ check\(s\)\. Next: ./m, `${fault.name}: a verdict and a next step`)
      if (fault.name === 'a config haproxy -c rejects') t.log(`failing case (${fault.name}):\n${r.out}`)
      if (fault.name === 'an intake that is down') t.log(`failing case (${fault.name}), its FAIL lines and verdict:\n${r.out.split('\n').filter((l) => /^FAIL/.test(l)).join('\n')}`)
      if (fault.repair) t.is((await h.sh(fault.repair)).code, 0, `${fault.name}: repaired`)
    }
    // Back to the trusted intake: healthy again.
    t.is((await serveFixtureIntake(h, product, PLATFORMS.deb.trustCa, { checkEvery: '1s' })).code, 0)
    t.is((await checkUntil(h, (r) => r.code === 0)).code, 0, 'healthy again')
  })
})
