// The install script beside an Agent on a Debian host (a systemd container), against a local
// signed repository: the proxy added to an existing Agent and its edited datadog.yaml, DD_UPGRADE,
// and the vendor's variables an operator's runbook carries (the Agent's version, tags, URL,
// DD_NO_AGENT_INSTALL on that Agent). Each test has its own host: they run side by side.
import test from 'ava'
import { parse } from 'yaml'
import { agentConfig, loadProduct } from '../scripts/lib/product.ts'
import { FIXTURE_AGENT_VERSION, FIXTURE_AGENT_VERSIONS } from './fixtures/datadog-agent/fixture-agent.ts'
import { AGENT_MAJOR } from './helpers/dist.ts'
import { AGENT_VERSION, REPO_URL, TEST_API_KEY, fipsInstallEnv, fipsSettings, statOf, withInstallerHost as withHost, yamlOf } from './helpers/installer-host.ts'

const product = loadProduct()
const FIPS = fipsSettings(product)
const FIPS_ENV = fipsInstallEnv(product)

test('adds the proxy to an existing Agent without an API key, patching its edited datadog.yaml; DD_UPGRADE then upgrades that Agent', async (t) => {
  await withHost(async (h) => {
    const [older] = FIXTURE_AGENT_VERSIONS
    t.is((await h.sh(`curl -fsSL -o /tmp/agent.deb ${REPO_URL}/apt/pool/${AGENT_MAJOR}/d/datadog-agent/datadog-agent_${older}-1_all.deb && dpkg -i /tmp/agent.deb`)).code, 0)
    const edited = '# my settings\napi_key: existingkey\nsite: ddog-gov.com\nfips:\n  enabled: false\n  local_address: localhost  # keep me\nlogs_enabled: true\n'
    await h.container.exec(`cat > ${product.agent.configDir}/datadog.yaml && chown dd-agent:dd-agent ${product.agent.configDir}/datadog.yaml && chmod 640 ${product.agent.configDir}/datadog.yaml`, { input: edited })
    const r = await h.install({ DD_FIPS_MODE: '1' })
    t.is(r.code, 0, r.out)
    t.regex(r.out, new RegExp(`datadog-agent 1:${older.replace(/\./g, '\\.')}-1 is installed: keeping it`))
    const text = (await h.sh(`cat ${product.agent.configDir}/datadog.yaml`)).out
    t.deepEqual(parse(text), { api_key: 'existingkey', site: 'ddog-gov.com', fips: { ...FIPS, local_address: 'localhost' }, logs_enabled: true })
    t.regex(text, /# my settings/)
    t.regex(text, /# keep me/)
    t.is(await statOf(h, agentConfig(product)), 'dd-agent:dd-agent:640', 'owner and mode kept')
    t.is((await h.sh(`ls ${product.agent.configDir}/datadog.yaml.*.bak | wc -l`)).out.trim(), '1', 'a backup was left')
    t.is((await h.sh(`systemctl is-active ${product.name}`)).out.trim(), 'active')
    // DD_UPGRADE: the Agent is upgraded without an API key, its configuration kept as it is.
    const upgraded = await h.install({ DD_FIPS_MODE: '1', DD_UPGRADE: 'true' })
    t.is(upgraded.code, 0, upgraded.out)
    t.is((await h.sh(AGENT_VERSION)).out, `1:${FIXTURE_AGENT_VERSION}-1`, 'DD_UPGRADE upgrades the Agent')
    t.is((await h.sh(`cat ${product.agent.configDir}/datadog.yaml`)).out, text, 'and keeps its datadog.yaml')
  })
})

// The vendor's variables an operator's runbook carries (issue 13, first part).
test('DD_AGENT_MINOR_VERSION, DD_HOST_TAGS, DD_URL, then DD_NO_AGENT_INSTALL on that Agent', async (t) => {
  await withHost(async (h) => {
    const [older, newer] = FIXTURE_AGENT_VERSIONS
    // Not in FIPS mode: the exact patch release, and the older tag and URL variables.
    const first = await h.install({ DD_API_KEY: TEST_API_KEY, DD_AGENT_MINOR_VERSION: older.split('.').slice(1).join('.'), DD_HOST_TAGS: 'team:fips,role:relay', DD_URL: 'https://intake.example.test' })
    t.is(first.code, 0, first.out)
    t.is((await h.sh(AGENT_VERSION)).out, `1:${older}-1`, `DD_AGENT_MINOR_VERSION=${older.slice(2)} installs exactly ${older}`)
    const config = await yamlOf(h, agentConfig(product))
    t.deepEqual(config.tags, ['team:fips', 'role:relay'], 'DD_HOST_TAGS, the older name of DD_TAGS')
    t.is(config.dd_url, 'https://intake.example.test', 'DD_URL outside FIPS mode')
    t.regex((await h.sh(`cat ${product.agent.configDir}/install_info`)).out, /tool_version: install_script_agent7/, "the Agent's install_info")
    // The proxy added to this Agent: the Agent stays at its version though a newer one is published
    // and an API key is given; its datadog.yaml gets the fips settings; DD_URL is ignored, with a word.
    const added = await h.install({ ...FIPS_ENV, DD_NO_AGENT_INSTALL: 'true', DD_URL: 'https://intake.example.test' })
    t.is(added.code, 0, added.out)
    t.is((await h.sh(AGENT_VERSION)).out, `1:${older}-1`, 'DD_NO_AGENT_INSTALL: the Agent is not upgraded')
    t.regex(added.out, /DD_URL=https:\/\/intake\.example\.test is ignored: in FIPS mode/)
    t.regex((await h.sh(`dpkg-query -W -f '\${Status}' ${product.name}`)).out, /install ok installed/)
    t.deepEqual((await yamlOf(h, agentConfig(product))).fips, FIPS)
    t.is((await h.sh(`systemctl is-active ${product.name}`)).out.trim(), 'active')
    // A minor version alone: the newest of its patch releases.
    const newest = await h.install({ ...FIPS_ENV, DD_AGENT_MINOR_VERSION: newer.split('.')[1] })
    t.is(newest.code, 0, newest.out)
    t.is((await h.sh(AGENT_VERSION)).out, `1:${newer}-1`, `DD_AGENT_MINOR_VERSION=${newer.split('.')[1]} installs the newest ${newer.split('.').slice(0, 2).join('.')}.x`)
  })
})
