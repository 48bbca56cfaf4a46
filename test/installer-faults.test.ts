// The install script under faults and hostile input (issue 20), on Debian hosts (systemd
// containers) against the local signed repository: one EXIT trap for every cleanup, values that
// stay values in datadog.yaml, installs cut off at several points that converge when run again,
// two runs at once, the way out (the package's removal, DD_FIPS_REVERT) and the proxy's logs.
import test from 'ava'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { agentConfig, agentLogsConfig, liveConfig, loadProduct, selfCheckPath } from '../scripts/lib/product.ts'
import { FIXTURE_POSTINST_HOLD } from './fixtures/datadog-agent/fixture-agent.ts'
import { SCRIPT } from './helpers/dist.ts'
import { HOSTILE } from './helpers/installer-lib.ts'
import { type InstallerHost, REPO_URL, TEST_API_KEY, fipsInstallEnv, fipsSettings, mainPid, releasePackages, servedTree, statOf, withInstallerHost as withHost, yamlOf } from './helpers/installer-host.ts'

const product = loadProduct()
const FIPS_ENV = fipsInstallEnv(product)
const AGENT_YAML = agentConfig(product)
const FIPS = fipsSettings(product)
// The prefix of every temporary file of the script (its work directory, files beside a target).
const TEMP = `.${SCRIPT.replace(/\.sh$/, '')}-tmp.`
const LOGS_CONFIG = agentLogsConfig(product)

test.serial('a fresh FIPS install with hostile values: datadog.yaml parses back to them', async (t) => {
  await withHost(async (h) => {
    const r = await h.install({ ...FIPS_ENV, DD_ENV: HOSTILE.DD_ENV, DD_TAGS: HOSTILE.DD_TAGS, DD_HOSTNAME: HOSTILE.DD_HOSTNAME })
    t.is(r.code, 0, r.out)
    const config = await yamlOf(h, AGENT_YAML)
    t.is(config.env, HOSTILE.DD_ENV)
    t.deepEqual(config.tags, HOSTILE.DD_TAGS.split(','))
    t.is(config.hostname, HOSTILE.DD_HOSTNAME)
    t.deepEqual(config.fips, FIPS, 'the only fips mapping is the script\'s')
    t.is((await h.sh('ls ${product.agent.configDir}/ | grep -c "\\.bak$" || true')).out.trim(), '0', 'a new datadog.yaml is written once: no backup of a file nobody wrote')
  })
})

// A served tree whose proxy package depends on a package nobody has: apt-get install fails.
async function unsatisfiableTree(): Promise<string> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'unsatisfiable-'))
  const [deb] = releasePackages('deb').filter((f) => f.endsWith('_amd64.deb'))
  const broken = path.join(work, path.basename(deb))
  await $({ quiet: true })`dpkg-deb -R ${deb} ${work}/tree`
  const control = path.join(work, 'tree/DEBIAN/control')
  writeFileSync(control, readFileSync(control, 'utf8').replace(/^Depends: (.*)$/m, 'Depends: $1, datadog-fips-proxy-fixture-missing-dependency'))
  await $({ quiet: true })`dpkg-deb --root-owner-group -Zxz --build ${work}/tree ${broken}`
  return servedTree((format) => (format === 'deb' ? [broken] : releasePackages(format)))
}

test.serial('DD_INSTALL_ONLY: a package install that fails leaves no policy-rc.d behind', async (t) => {
  await withHost(async (h) => {
    const r = await h.install({ ...FIPS_ENV, DD_INSTALL_ONLY: 'true' })
    t.is(r.code, 1, r.out)
    t.regex(r.out, /datadog-fips-proxy-fixture-missing-dependency/, 'apt says what is missing')
    t.regex(r.out, /apt-get install .* failed/)
    t.is((await h.sh('test -e /usr/sbin/policy-rc.d')).code, 1, 'the policy-rc.d of the install is gone')
    t.is((await h.sh(`ls -a /tmp ${product.agent.configDir} 2>/dev/null | grep -c '^${TEMP}' || true`)).out.trim(), '0', 'no temporary file left')
  }, await unsatisfiableTree())
})

// The end state of an uninterrupted FIPS install, checked after the run that follows a kill.
async function assertConverged(t: any, h: InstallerHost, what: string) {
  const again = await h.install(FIPS_ENV)
  t.is(again.code, 0, `${what}: the plain re-run exits 0:\n${again.out}`)
  t.is((await h.sh(`systemctl is-active ${product.name} ${product.agent.service}`)).out, 'active\nactive\n', `${what}: both services active`)
  t.is((await h.sh(`systemctl is-enabled ${product.name}`)).out.trim(), 'enabled', `${what}: the proxy starts at boot`)
  t.is(await statOf(h, liveConfig(product)), `${product.user}:${product.group}:640`, `${what}: live config`)
  const config = await yamlOf(h, AGENT_YAML)
  t.deepEqual(config.fips, FIPS, `${what}: datadog.yaml's fips settings`)
  t.is(config.api_key, TEST_API_KEY, `${what}: datadog.yaml has the API key`)
  t.is(await statOf(h, AGENT_YAML), 'dd-agent:dd-agent:640', `${what}: datadog.yaml owner and mode`)
  t.is((await h.sh(`find /tmp ${product.agent.configDir} ${product.paths.configDir} ${product.paths.embedded}/ssl -maxdepth 1 \\( -name '${TEMP}*' -o -name 'fipsmodule.cnf.*' \\)`)).out, '', `${what}: no temporary file left`)
  t.is((await h.sh('test -e /usr/sbin/policy-rc.d')).code, 1, `${what}: no policy-rc.d`)
  t.is((await h.sh('dpkg --audit')).out, '', `${what}: dpkg --audit is clean`)
  t.is((await h.sh(`dpkg --verify ${product.name} ${product.agent.package}`)).out, '', `${what}: the packages' files verify`)
  return again.out
}

// Kill points of a fresh install, each on a fresh host: what it left is reported in the log.
const KILL_POINTS: { what: string; env?: Record<string, string>; before?: string; reached: string; after?: string }[] = [
  {
    // A key server that accepts and never answers holds the key fetch as long as the test wants.
    what: 'during the key fetch',
    before: 'setsid sh -c "sleep 600 | busybox nc -l -p 8081" >/dev/null 2>&1 < /dev/null &',
    env: { DD_KEYS_URL: 'http://127.0.0.1:8081/keys' },
    // (a connection to it is open: pgrep -f would match the watcher's own command line)
    reached: 'ss -tnH state established "( dport = :8081 )" | grep -q .',
    after: "pkill -f 'busybox nc -l -p 8081' || true",
  },
  {
    // The FIXTURE Agent's postinst waits while the hold file exists: dpkg is mid-transaction.
    what: 'during the package install (dpkg configuring the Agent)',
    before: `touch ${FIXTURE_POSTINST_HOLD.hold}`,
    reached: `[ -e ${FIXTURE_POSTINST_HOLD.held} ]`,
    after: `rm -f ${FIXTURE_POSTINST_HOLD.hold} ${FIXTURE_POSTINST_HOLD.held}`,
  },
  {
    // The new datadog.yaml is being written under its temporary name.
    what: 'during the configuration (writing datadog.yaml)',
    reached: `compgen -G '${product.agent.configDir}/${TEMP}*' >/dev/null`,
  },
]

for (const point of KILL_POINTS) {
  test.serial(`an install killed ${point.what} converges when run again`, async (t) => {
    await withHost(async (h) => {
      if (point.before) await h.sh(point.before)
      const out = await h.killedInstall({ ...FIPS_ENV, ...point.env }, point.reached)
      t.notRegex(out, /\* Done/, 'the run was cut off before its end')
      const left = (await h.sh(`{ dpkg --audit; ls -a /tmp ${product.agent.configDir} 2>/dev/null | grep '^${TEMP}'; ls /usr/sbin/policy-rc.d; } 2>/dev/null`)).out
      t.log(`left behind ${point.what}: ${left.trim().replace(/\n+/g, ' | ') || 'nothing'}`)
      if (point.after) await h.sh(point.after)
      const again = await assertConverged(t, h, point.what)
      if (/dpkg/.test(point.what)) t.regex(again, /dpkg was interrupted before it finished: running dpkg --configure -a/)
    })
  })
}

test.serial('two runs at once: the second waits for the first, naming it; both succeed and the host is healthy', async (t) => {
  await withHost(async (h) => {
    const run = (n: number) => `bash -c "$(curl -fsSL ${REPO_URL}/${SCRIPT})" >/tmp/run${n}.log 2>&1; echo $? >/tmp/run${n}.rc`
    const r = await h.sh(`cd /root && { (${run(1)}) & (${run(2)}) & wait; }; cat /tmp/run1.rc /tmp/run2.rc`, { ...FIPS_ENV, DD_REPO_URL: REPO_URL })
    const logs = [(await h.sh('cat /tmp/run1.log')).out, (await h.sh('cat /tmp/run2.log')).out]
    t.is(r.out, '0\n0\n', logs.join('\n=====\n'))
    const waited = logs.filter((l) => /another install run holds \/run\/datadog-install-script\.lock \(PID \d+, install_script_agent7\.sh, started .*\); waiting/.test(l))
    t.is(waited.length, 1, `exactly one run waited, naming the other:\n${logs.join('\n=====\n')}`)
    t.true([0, 3].includes((await h.sh(selfCheckPath(product))).code), 'the self-check passes (its intake aside)')
  })
})

test.serial('DD_FIPS_PROXY_LOGS_ENABLED, the package\'s purge, then DD_FIPS_REVERT', async (t) => {
  await withHost(async (h) => {
    // The proxy's journal to Datadog: the Agent's log source, dd-agent in systemd-journal.
    const logs = await h.install({ ...FIPS_ENV, DD_FIPS_PROXY_LOGS_ENABLED: 'true' })
    t.is(logs.code, 0, logs.out)
    t.deepEqual(await yamlOf(h, LOGS_CONFIG), { logs: [{ type: 'journald', source: product.name, include_units: [`${product.name}.service`] }] })
    t.regex((await h.sh('id -nG dd-agent')).out, /\bsystemd-journal\b/)
    t.true(logs.out.includes(`warning: logs_enabled is not true in ${AGENT_YAML}`), logs.out)
    t.regex(logs.out, /\n {2}PASS {2}logs +the Agent collects datadog-fips-proxy's journal/)
    await h.mark()
    const again = await h.install({ ...FIPS_ENV, DD_FIPS_PROXY_LOGS_ENABLED: 'true' })
    t.is(again.code, 0, again.out)
    t.deepEqual(await h.changedSinceMark(), [], 'idempotent')
    await h.sh('gpasswd -d dd-agent systemd-journal')
    const check = await h.sh(selfCheckPath(product))
    t.regex(check.out, /\nFAIL {2}logs +.*dd-agent is in no group that may read it/, 'the self-check says when the Agent cannot read the journal')
    await h.sh('usermod -a -G systemd-journal dd-agent')

    // The package's purge: everything under the prefix goes, and the Agent's dead end is named.
    const purge = await h.sh(`apt-get purge -y ${product.name} 2>&1`)
    t.is(purge.code, 0, purge.out)
    t.regex(purge.out, /datadog\.yaml still has fips\.enabled: true: the Agent sends its data to the proxy's ports, where nothing listens any more/)
    t.regex(purge.out, new RegExp(`DD_FIPS_REVERT=1 bash -c "\\$\\(curl -L ${REPO_URL}/${SCRIPT}\\)"`), 'with the command that reverts it')
    t.is((await h.sh(`ls -A ${product.paths.prefix} 2>&1`)).code, 2, `nothing left under ${product.paths.prefix}`)
    t.is((await h.sh(`test -e ${product.paths.configDir}/${product.name}.cfg.example`)).code, 1, 'the example (a conffile) purged')

    // Back in FIPS mode, then out of it with the script.
    t.is((await h.install(FIPS_ENV)).code, 0)
    const agentPid = await mainPid(h, product.agent.service)
    const revert = await h.install({ DD_FIPS_REVERT: 'true' })
    t.is(revert.code, 0, revert.out)
    const config = await yamlOf(h, AGENT_YAML)
    t.is(config.fips, undefined, 'the fips settings are gone')
    t.is(config.site, product.site, 'the Agent keeps sending to the FIPS site, not to its default one')
    t.is(config.api_key, TEST_API_KEY)
    t.is((await h.sh(`ls ${AGENT_YAML}.*.bak | wc -l`)).out.trim(), '1', 'a backup of datadog.yaml')
    t.is((await h.sh(`test -e ${LOGS_CONFIG}`)).code, 1, 'the log source is gone')
    t.not(await mainPid(h, product.agent.service), agentPid, 'the Agent restarted')
    t.is((await h.sh(`dpkg-query -W -f '\${Status}' ${product.name} 2>/dev/null || true`)).out.includes('install ok installed'), false, 'the proxy is removed')
    t.is((await h.sh(`ls -A ${product.paths.prefix} ${product.paths.configDir} 2>/dev/null | wc -l`)).out.trim(), '0', 'and everything it and the script put on the host')
    t.notRegex(revert.out, /still has fips\.enabled: true/, 'datadog.yaml was reverted before the package went')
    const twice = await h.install({ DD_FIPS_REVERT: 'true' })
    t.is(twice.code, 0, twice.out)
    t.regex(twice.out, /has no fips settings to remove/)
  })
})
