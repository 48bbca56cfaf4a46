// The generated install script, end to end on a Debian host (a systemd container) against a local
// signed repository: fresh install, re-run, adding the proxy to an existing Agent, install-only,
// and every refused input, each asserting files, owners, modes, YAML, exit codes and, for the
// refusals, that nothing changed on the host.
import test from 'ava'
import path from 'node:path'
import { parse } from 'yaml'
import { exampleConfig, liveConfig, loadProduct, selfCheckPath } from '../scripts/lib/product.ts'
import { FIXTURE_AGENT_VERSION, FIXTURE_AGENT_VERSIONS } from './fixtures/datadog-agent/fixture-agent.ts'
import { AGENT_MAJOR, distPackage } from './helpers/dist.ts'
import { type InstallerHost, REPO_PORT, REPO_URL, TEST_API_KEY, fipsInstallEnv, withInstallerHost as withHost } from './helpers/installer-host.ts'

const product = loadProduct()
const FIPS = { enabled: true, https: false, port_range_start: product.ports.rangeStart }
const FIPS_ENV = fipsInstallEnv(product)

const yamlOf = async (h: InstallerHost, file: string) => parse((await h.sh(`cat ${file}`)).out)
const statOf = async (h: InstallerHost, file: string) => (await h.sh(`stat -c %U:%G:%a ${file}`)).out.trim()
const AGENT_VERSION = "dpkg-query -W -f '${Version}' datadog-agent"
// These hosts are Debian: the deb's environment file.
const ENV_FILE = product.packages.find((f) => f.kind === 'deb')!.envFile
const mainPid = async (h: InstallerHost, unit: string) => (await h.sh(`systemctl show -p MainPID --value ${unit}`)).out.trim()

test.serial('fresh install with DD_FIPS_MODE=1; a re-run succeeds and changes nothing', async (t) => {
  await withHost(async (h) => {
    // A check's value is the command's stdout; stderr (the engine client's too) is kept apart.
    const noisy = await h.sh('echo value; echo "WARN[0000] engine-like noise" >&2')
    t.is(noisy.out, 'value\n')
    t.regex(noisy.err, /engine-like noise/)
    t.regex(h.lastErr(), /engine-like noise/)
    const first = await h.install(FIPS_ENV)
    t.is(first.code, 0, first.out)
    // The end of a FIPS install: the compliance report of the datadog.yaml it wrote.
    t.regex(first.out, new RegExp(`^ {2}FIPS {4}metrics +through ${product.name}, port ${product.ports.rangeStart + 1} \\(always on\\)$`, 'm'))
    t.regex(first.out, /^ {2}NOT COMPLIANT: sent directly, without the FIPS module: container lifecycle, container images\./m)
    t.regex((await h.sh(`dpkg-query -W -f '\${Status}' datadog-agent ${product.name}`)).out, /^install ok installedinstall ok installed$/)
    t.is(await statOf(h, liveConfig(product)), `${product.user}:${product.group}:640`)
    t.is((await h.sh(`cmp ${exampleConfig(product)} ${liveConfig(product)}`)).code, 0, 'the live config is the example')
    const config = await yamlOf(h, '/etc/datadog-agent/datadog.yaml')
    t.deepEqual(config.fips, FIPS)
    t.is(config.api_key, TEST_API_KEY)
    // Made from the FIXTURE example, which has the real file's shape (every setting commented, the
    // commented `# fips:` section): only the key, the site and the fips block are set.
    t.deepEqual(Object.keys(config).sort(), ['api_key', 'fips', 'site'])
    t.is(config.site, product.site, 'what the Agent sends directly goes to the FIPS site, not its default one')
    const example = (await h.sh('grep -c "^ *#" /etc/datadog-agent/datadog.yaml.example')).out
    t.is((await h.sh('grep -c "^ *#" /etc/datadog-agent/datadog.yaml')).out, String(Number(example)) + '\n', 'every comment of the example kept but the commented site it replaced, plus the one before the fips block')
    t.is(await statOf(h, '/etc/datadog-agent/datadog.yaml'), 'dd-agent:dd-agent:640')
    t.true((await h.sh(`test -s ${product.paths.embedded}/ssl/fipsmodule.cnf`)).code === 0, 'fipsmodule.cnf generated on this host')
    t.is((await h.sh(`systemctl is-active ${product.name} datadog-agent`)).out.trim(), 'active\nactive')
    // HAProxy answers on the metrics port; with no intake reachable from this host, 503.
    t.is((await h.sh(`curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${product.ports.rangeStart + 1}/`)).out, '503')
    const listening = (await h.sh(`ss -ltnH | awk '{print $4}' | sort`)).out.trim().split('\n').filter((a) => a !== `127.0.0.1:${REPO_PORT}`)
    t.deepEqual(listening.sort(), product.ports.services.map((s) => `127.0.0.1:${s.port}`).sort(), 'the whole range, on loopback only')
    t.regex((await h.sh(`cat ${product.paths.configDir}/install_info`)).out, /tool_version: install_script_agent7/)
    t.is((await h.sh(`grep -v '^#' ${ENV_FILE}`)).out, `DD_FIPS_PORT_RANGE_START=${product.ports.rangeStart}\n`, 'the service environment names the default range')
    t.regex(first.out, /datadog-agent diagnose/)
    // The self-check's table: this host's checks pass (no intake can be reached from this host: its
    // backends are the one warning).
    for (const check of ['service', 'config', 'fips-module', 'ports', 'datadog.yaml']) t.regex(first.out, new RegExp(`\\n  PASS  ${check.replace('.', '\\.')} `), check)
    t.regex(first.out, /FAIL  backend datadog-metrics +no server UP: no address \(DNS: the host does not resolve\) \[mothership1,mothership2,mothership3,mothership4\]/)
    t.regex(first.out, new RegExp(`sudo ${selfCheckPath(product)}`))

    await h.mark()
    const pid = (await h.sh(`systemctl show -p MainPID --value ${product.name}`)).out.trim()
    const second = await h.install(FIPS_ENV)
    t.is(second.code, 0, second.out)
    t.regex(second.out, /already has fips\.enabled: true/)
    t.regex(second.out, new RegExp(`${product.name} is running and nothing changed: not restarted`))
    t.is((await h.sh(`systemctl show -p MainPID --value ${product.name}`)).out.trim(), pid, 'the proxy was not restarted')
    t.deepEqual(await h.changedSinceMark(), [], 'the second run changed no file')
  })
})

test.serial('adds the proxy to an existing Agent without an API key, patching its edited datadog.yaml; DD_UPGRADE then upgrades that Agent', async (t) => {
  await withHost(async (h) => {
    const [older] = FIXTURE_AGENT_VERSIONS
    t.is((await h.sh(`curl -fsSL -o /tmp/agent.deb ${REPO_URL}/apt/pool/${AGENT_MAJOR}/d/datadog-agent/datadog-agent_${older}-1_all.deb && dpkg -i /tmp/agent.deb`)).code, 0)
    const edited = '# my settings\napi_key: existingkey\nsite: ddog-gov.com\nfips:\n  enabled: false\n  local_address: localhost  # keep me\nlogs_enabled: true\n'
    await h.container.exec('cat > /etc/datadog-agent/datadog.yaml && chown dd-agent:dd-agent /etc/datadog-agent/datadog.yaml && chmod 640 /etc/datadog-agent/datadog.yaml', { input: edited })
    const r = await h.install({ DD_FIPS_MODE: '1' })
    t.is(r.code, 0, r.out)
    t.regex(r.out, new RegExp(`datadog-agent 1:${older.replace(/\./g, '\\.')}-1 is installed: keeping it`))
    const text = (await h.sh('cat /etc/datadog-agent/datadog.yaml')).out
    t.deepEqual(parse(text), { api_key: 'existingkey', site: 'ddog-gov.com', fips: { ...FIPS, local_address: 'localhost' }, logs_enabled: true })
    t.regex(text, /# my settings/)
    t.regex(text, /# keep me/)
    t.is(await statOf(h, '/etc/datadog-agent/datadog.yaml'), 'dd-agent:dd-agent:640', 'owner and mode kept')
    t.is((await h.sh('ls /etc/datadog-agent/datadog.yaml.*.bak | wc -l')).out.trim(), '1', 'a backup was left')
    t.is((await h.sh(`systemctl is-active ${product.name}`)).out.trim(), 'active')
    // DD_UPGRADE: the Agent is upgraded without an API key, its configuration kept as it is.
    const upgraded = await h.install({ DD_FIPS_MODE: '1', DD_UPGRADE: 'true' })
    t.is(upgraded.code, 0, upgraded.out)
    t.is((await h.sh(AGENT_VERSION)).out, `1:${FIXTURE_AGENT_VERSION}-1`, 'DD_UPGRADE upgrades the Agent')
    t.is((await h.sh('cat /etc/datadog-agent/datadog.yaml')).out, text, 'and keeps its datadog.yaml')
  })
})

// The vendor's variables an operator's runbook carries (issue 13, first part).
test.serial('DD_AGENT_MINOR_VERSION, DD_HOST_TAGS, DD_URL, then DD_NO_AGENT_INSTALL on that Agent', async (t) => {
  await withHost(async (h) => {
    const [older, newer] = FIXTURE_AGENT_VERSIONS
    // Not in FIPS mode: the exact patch release, and the older tag and URL variables.
    const first = await h.install({ DD_API_KEY: TEST_API_KEY, DD_AGENT_MINOR_VERSION: older.split('.').slice(1).join('.'), DD_HOST_TAGS: 'team:fips,role:relay', DD_URL: 'https://intake.example.test' })
    t.is(first.code, 0, first.out)
    t.is((await h.sh(AGENT_VERSION)).out, `1:${older}-1`, `DD_AGENT_MINOR_VERSION=${older.slice(2)} installs exactly ${older}`)
    const config = await yamlOf(h, '/etc/datadog-agent/datadog.yaml')
    t.deepEqual(config.tags, ['team:fips', 'role:relay'], 'DD_HOST_TAGS, the older name of DD_TAGS')
    t.is(config.dd_url, 'https://intake.example.test', 'DD_URL outside FIPS mode')
    t.regex((await h.sh('cat /etc/datadog-agent/install_info')).out, /tool_version: install_script_agent7/, "the Agent's install_info")
    // The proxy added to this Agent: the Agent stays at its version though a newer one is published
    // and an API key is given; its datadog.yaml gets the fips settings; DD_URL is ignored, with a word.
    const added = await h.install({ ...FIPS_ENV, DD_NO_AGENT_INSTALL: 'true', DD_URL: 'https://intake.example.test' })
    t.is(added.code, 0, added.out)
    t.is((await h.sh(AGENT_VERSION)).out, `1:${older}-1`, 'DD_NO_AGENT_INSTALL: the Agent is not upgraded')
    t.regex(added.out, /DD_URL=https:\/\/intake\.example\.test is ignored: in FIPS mode/)
    t.regex((await h.sh(`dpkg-query -W -f '\${Status}' ${product.name}`)).out, /install ok installed/)
    t.deepEqual((await yamlOf(h, '/etc/datadog-agent/datadog.yaml')).fips, FIPS)
    t.is((await h.sh(`systemctl is-active ${product.name}`)).out.trim(), 'active')
    // A minor version alone: the newest of its patch releases.
    const newest = await h.install({ ...FIPS_ENV, DD_AGENT_MINOR_VERSION: newer.split('.')[1] })
    t.is(newest.code, 0, newest.out)
    t.is((await h.sh(AGENT_VERSION)).out, `1:${newer}-1`, `DD_AGENT_MINOR_VERSION=${newer.split('.')[1]} installs the newest ${newer.split('.').slice(0, 2).join('.')}.x`)
  })
})

// DD_FIPS_PORT_RANGE_START: the proxy's listeners and the Agent's fips.port_range_start move together.
test.serial('DD_FIPS_PORT_RANGE_START moves the proxy and the Agent together; the same range changes nothing; a busy port in a new range is refused', async (t) => {
  await withHost(async (h) => {
    const listeners = async () => (await h.sh(`ss -ltnH | awk '{print $4}' | sort`)).out.trim().split('\n').filter((a) => a !== `127.0.0.1:${REPO_PORT}`).sort()
    const range = (start: number) => product.ports.services.map((s) => `127.0.0.1:${start + s.offset}`).sort()
    const metricsOffset = product.ports.services.find((s) => s.name === 'metrics')!.offset
    const moved = product.ports.rangeStart + 1000
    const first = await h.install({ ...FIPS_ENV, DD_FIPS_PORT_RANGE_START: String(moved) })
    t.is(first.code, 0, first.out)
    t.is((await h.sh(`grep -v '^#' ${ENV_FILE}`)).out, `DD_FIPS_PORT_RANGE_START=${moved}\n`)
    t.deepEqual((await yamlOf(h, '/etc/datadog-agent/datadog.yaml')).fips, { ...FIPS, port_range_start: moved })
    t.deepEqual(await listeners(), range(moved), `the whole range from ${moved}, and nothing on the default one`)
    t.regex((await h.sh(`curl -s http://127.0.0.1:${moved + metricsOffset}/`)).out, /No server is available/, 'HAProxy relays on the moved metrics port')
    t.regex(first.out, new RegExp(`ports ${moved}-${moved + product.ports.rangeSize - 1}, set in ${ENV_FILE}`))

    // The same range, given again or not given (the host's range is kept): nothing changes.
    const pids = [await mainPid(h, product.name), await mainPid(h, 'datadog-agent')]
    for (const env of [{ ...FIPS_ENV, DD_FIPS_PORT_RANGE_START: String(moved) }, FIPS_ENV]) {
      await h.mark()
      const again = await h.install(env)
      t.is(again.code, 0, again.out)
      t.deepEqual(await h.changedSinceMark(), [], 'a re-run on the same range changes no file')
      t.deepEqual([await mainPid(h, product.name), await mainPid(h, 'datadog-agent')], pids, 'and restarts nothing')
    }

    // Another range with a busy port: refused, naming the port and its holder; nothing changed.
    const next = moved + 1000
    await h.sh(`busybox httpd -p 127.0.0.1:${next + 7} -h /tmp`)
    await h.mark()
    const busy = await h.install({ ...FIPS_ENV, DD_FIPS_PORT_RANGE_START: String(next) })
    t.is(busy.code, 1, busy.out)
    t.regex(busy.out, new RegExp(`port ${next + 7} is in use by \\d+/busybox`))
    t.regex(busy.out, /or choose other ports with DD_FIPS_PORT_RANGE_START/)
    t.deepEqual(await h.changedSinceMark(), [], 'the refused move changed nothing')
    t.deepEqual(await listeners(), [...range(moved), `127.0.0.1:${next + 7}`].sort(), 'the proxy still on its range')

    // Once free: both sides move, and both services restart on it.
    await h.sh(`pkill -f '^busybox httpd -p 127.0.0.1:${next + 7}'`)
    const move = await h.install({ ...FIPS_ENV, DD_FIPS_PORT_RANGE_START: String(next) })
    t.is(move.code, 0, move.out)
    t.regex(move.out, new RegExp(`moving ${product.name} from ports ${moved}-\\d+ to ${next}-`))
    t.deepEqual((await yamlOf(h, '/etc/datadog-agent/datadog.yaml')).fips, { ...FIPS, port_range_start: next })
    t.deepEqual(await listeners(), range(next))
    const after = [await mainPid(h, product.name), await mainPid(h, 'datadog-agent')]
    t.not(after[0], pids[0], 'the proxy restarted')
    t.not(after[1], pids[1], 'the Agent restarted')
  })
})

test.serial('DD_NO_AGENT_INSTALL on a host without an Agent: only the proxy, running; the self-check names the missing datadog.yaml', async (t) => {
  await withHost(async (h) => {
    const r = await h.install({ DD_SITE: product.site, DD_FIPS_MODE: '1', DD_NO_AGENT_INSTALL: 'true' })
    t.is(r.code, 0, r.out)
    t.is((await h.sh(AGENT_VERSION)).code, 1, 'no Agent installed')
    t.is((await h.sh(`systemctl is-active ${product.name}`)).out.trim(), 'active')
    t.regex(r.out, /no \/etc\/datadog-agent\/datadog\.yaml yet \(DD_NO_AGENT_INSTALL\)/)
    t.regex(r.out, /\n {2}FAIL {2}datadog\.yaml +\/etc\/datadog-agent\/datadog\.yaml does not exist/)
    t.regex(r.out, /warning: datadog-fips-proxy runs, but not every check passes/)
  })
})

test.serial('DD_INSTALL_ONLY installs and configures, and starts nothing', async (t) => {
  await withHost(async (h) => {
    // A live config in place before the install (configuration management does that): the
    // package's postinst could start the proxy, and must not.
    const deb = `/srv/repo/apt/pool/${AGENT_MAJOR}/${product.name[0]}/${product.name}/${path.basename(distPackage('deb', 'amd64'))}`
    t.is((await h.sh(`mkdir -p ${product.paths.configDir} && dpkg-deb --fsys-tarfile ${deb} | tar -xO .${exampleConfig(product)} > ${liveConfig(product)}`)).code, 0)
    const r = await h.install({ ...FIPS_ENV, DD_INSTALL_ONLY: 'true' })
    t.is(r.code, 0, r.out)
    t.deepEqual((await yamlOf(h, '/etc/datadog-agent/datadog.yaml')).fips, FIPS)
    t.is(await statOf(h, liveConfig(product)), `${product.user}:${product.group}:640`)
    t.regex((await h.sh(`systemctl is-active ${product.name}`)).out, /inactive/)
    t.regex(r.out, /nothing was started \(DD_INSTALL_ONLY\)/)
    t.is((await h.sh('test -e /usr/sbin/policy-rc.d')).code, 1, 'the policy-rc.d of the install is gone')
    t.regex((await h.sh('systemctl is-active datadog-agent || true')).out, /inactive/)
  })
})

test.serial('bad input is refused with its exit code before anything changes', async (t) => {
  await withHost(async (h) => {
    const refused = async (name: string, env: Record<string, string>, code: number, message: RegExp) => {
      await h.mark()
      const r = await h.install(env)
      t.is(r.code, code, `${name}: ${r.out}`)
      t.regex(r.out, message, name)
      t.deepEqual(await h.changedSinceMark(), [], `${name}: nothing changed`)
    }
    await refused('wrong site', { ...FIPS_ENV, DD_SITE: 'datadoghq.com' }, 6, /DD_FIPS_MODE needs DD_SITE="ddog-gov\.com".*got DD_SITE="datadoghq\.com"/)
    await refused('missing API key', { DD_FIPS_MODE: '1' }, 6, /DD_API_KEY is required/)
    await refused('bad boolean', { ...FIPS_ENV, DD_FIPS_MODE: 'maybe' }, 6, /'maybe' is not a boolean/)
    await refused('other agent major', { ...FIPS_ENV, DD_AGENT_MAJOR_VERSION: '6' }, 6, /installs Agent 7/)
    const tooOld = product.agentMinVersion.minor - 1
    await refused('an Agent older than the proxy needs', { ...FIPS_ENV, DD_AGENT_MINOR_VERSION: `${tooOld}.0` }, 6, new RegExp(`needs Agent 7\\.${product.agentMinVersion.minor} or later; DD_AGENT_MINOR_VERSION=${tooOld}\\.0`))
    await refused('DD_NO_AGENT_INSTALL without FIPS mode', { DD_API_KEY: TEST_API_KEY, DD_NO_AGENT_INSTALL: '1' }, 6, /DD_NO_AGENT_INSTALL without DD_FIPS_MODE leaves nothing to install/)
    await refused('DD_FIPS_PORT_RANGE_START without FIPS mode', { DD_API_KEY: TEST_API_KEY, DD_FIPS_PORT_RANGE_START: '10803' }, 6, /DD_FIPS_PORT_RANGE_START is the FIPS proxy's port range: it needs DD_FIPS_MODE/)
    for (const bad of ['abc', '80', '09803', String(65536 - product.ports.rangeSize + 1)]) {
      await refused(`DD_FIPS_PORT_RANGE_START=${bad}`, { ...FIPS_ENV, DD_FIPS_PORT_RANGE_START: bad }, 6, new RegExp(`DD_FIPS_PORT_RANGE_START='${bad}' is not a port from 1024 to ${65536 - product.ports.rangeSize}`))
    }

    // A port of the range held by another program: named in the error.
    await h.sh(`busybox httpd -p 127.0.0.1:${product.ports.rangeStart + 3} -h /tmp`)
    await refused('busy port', FIPS_ENV, 1, new RegExp(`port ${product.ports.rangeStart + 3} is in use by \\d+/busybox`))
    await h.sh("pkill -f '^busybox httpd -p 127.0.0.1:98'")

    // An existing datadog.yaml that is not valid YAML: left untouched.
    await h.sh('mkdir -p /etc/datadog-agent && printf "api_key: x\\nfips: [unclosed\\n" > /etc/datadog-agent/datadog.yaml')
    await refused('unparseable datadog.yaml', FIPS_ENV, 1, /datadog\.yaml is not valid YAML.*Nothing was changed/s)
    await h.sh('rm -rf /etc/datadog-agent')

    const osRelease = (await h.sh('cat /etc/os-release')).out
    await h.sh('printf \'ID=arch\\nVERSION_ID=1\\n\' > /etc/os-release')
    await refused('unsupported distribution', FIPS_ENV, 5, /unsupported distribution 'arch'/)
    await h.sh('printf \'ID=debian\\nVERSION_ID="7"\\n\' > /etc/os-release')
    await refused('too old a release', FIPS_ENV, 5, /debian 7 is not supported \(minimum: debian 8\)/)
    await h.container.exec('cat > /etc/os-release', { input: osRelease })
  })
})
