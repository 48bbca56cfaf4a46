// The generated install script on a Debian host without an Agent (a systemd container), against a
// local signed repository: a fresh install in FIPS mode and its re-run, DD_NO_AGENT_INSTALL (the
// proxy alone) and DD_INSTALL_ONLY (nothing started), each asserting files, owners, modes, YAML and
// exit codes. Each test has its own host: they run side by side.
import test from 'ava'
import path from 'node:path'
import { agentConfig, exampleConfig, liveConfig, loadProduct, selfCheckPath } from '../scripts/lib/product.ts'
import { AGENT_MAJOR, distPackage } from './helpers/dist.ts'
import { AGENT_VERSION, REPO_PORT, TEST_API_KEY, debEnvFile, fipsInstallEnv, fipsSettings, statOf, withInstallerHost as withHost, yamlOf } from './helpers/installer-host.ts'

const product = loadProduct()
const FIPS = fipsSettings(product)
const FIPS_ENV = fipsInstallEnv(product)
const ENV_FILE = debEnvFile(product)

test('fresh install with DD_FIPS_MODE=1; a re-run succeeds and changes nothing', async (t) => {
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
    const config = await yamlOf(h, agentConfig(product))
    t.deepEqual(config.fips, FIPS)
    t.is(config.api_key, TEST_API_KEY)
    // Made from the FIXTURE example, which has the real file's shape (every setting commented, the
    // commented `# fips:` section): only the key, the site and the fips block are set.
    t.deepEqual(Object.keys(config).sort(), ['api_key', 'fips', 'site'])
    t.is(config.site, product.site, 'what the Agent sends directly goes to the FIPS site, not its default one')
    const example = (await h.sh(`grep -c "^ *#" ${product.agent.configDir}/datadog.yaml.example`)).out
    t.is((await h.sh(`grep -c "^ *#" ${product.agent.configDir}/datadog.yaml`)).out, String(Number(example)) + '\n', 'every comment of the example kept but the commented site it replaced, plus the one before the fips block')
    t.is(await statOf(h, agentConfig(product)), 'dd-agent:dd-agent:640')
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

test('DD_NO_AGENT_INSTALL on a host without an Agent: only the proxy, running; the self-check names the missing datadog.yaml', async (t) => {
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

test('DD_INSTALL_ONLY installs and configures, and starts nothing', async (t) => {
  await withHost(async (h) => {
    // A live config in place before the install (configuration management does that): the
    // package's postinst could start the proxy, and must not.
    const deb = `/srv/repo/apt/pool/${AGENT_MAJOR}/${product.name[0]}/${product.name}/${path.basename(distPackage('deb', 'amd64'))}`
    t.is((await h.sh(`mkdir -p ${product.paths.configDir} && dpkg-deb --fsys-tarfile ${deb} | tar -xO .${exampleConfig(product)} > ${liveConfig(product)}`)).code, 0)
    const r = await h.install({ ...FIPS_ENV, DD_INSTALL_ONLY: 'true' })
    t.is(r.code, 0, r.out)
    t.deepEqual((await yamlOf(h, agentConfig(product))).fips, FIPS)
    t.is(await statOf(h, liveConfig(product)), `${product.user}:${product.group}:640`)
    t.regex((await h.sh(`systemctl is-active ${product.name}`)).out, /inactive/)
    t.regex(r.out, /nothing was started \(DD_INSTALL_ONLY\)/)
    t.is((await h.sh('test -e /usr/sbin/policy-rc.d')).code, 1, 'the policy-rc.d of the install is gone')
    t.regex((await h.sh('systemctl is-active datadog-agent || true')).out, /inactive/)
  })
})
