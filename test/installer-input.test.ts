// The install script refuses bad input and hosts it cannot install on, on a Debian host (a systemd
// container) against a local signed repository: each refusal with its exit code and its message,
// and nothing changed on the host. The variables and the host's state are two tests, each with its
// own host: they run side by side.
import test, { type ExecutionContext } from 'ava'
import { loadProduct } from '../scripts/lib/product.ts'
import { type InstallerHost, TEST_API_KEY, fipsInstallEnv, withInstallerHost as withHost } from './helpers/installer-host.ts'

const product = loadProduct()
const FIPS_ENV = fipsInstallEnv(product)

// Runs the install script with env and checks that it is refused with `code` and `message`, and
// that nothing changed on the host.
async function refused(t: ExecutionContext, h: InstallerHost, name: string, env: Record<string, string>, code: number, message: RegExp): Promise<void> {
  await h.mark()
  const r = await h.install(env)
  t.is(r.code, code, `${name}: ${r.out}`)
  t.regex(r.out, message, name)
  t.deepEqual(await h.changedSinceMark(), [], `${name}: nothing changed`)
}

test('bad input is refused with its exit code before anything changes', async (t) => {
  await withHost(async (h) => {
    await refused(t, h, 'wrong site', { ...FIPS_ENV, DD_SITE: 'datadoghq.com' }, 6, /DD_FIPS_MODE needs DD_SITE="ddog-gov\.com".*got DD_SITE="datadoghq\.com"/)
    await refused(t, h, 'missing API key', { DD_FIPS_MODE: '1' }, 6, /DD_API_KEY is required/)
    await refused(t, h, 'bad boolean', { ...FIPS_ENV, DD_FIPS_MODE: 'maybe' }, 6, /'maybe' is not a boolean/)
    await refused(t, h, 'other agent major', { ...FIPS_ENV, DD_AGENT_MAJOR_VERSION: '6' }, 6, /installs Agent 7/)
    const tooOld = product.agentMinVersion.minor - 1
    await refused(t, h, 'an Agent older than the proxy needs', { ...FIPS_ENV, DD_AGENT_MINOR_VERSION: `${tooOld}.0` }, 6, new RegExp(`needs Agent 7\\.${product.agentMinVersion.minor} or later; DD_AGENT_MINOR_VERSION=${tooOld}\\.0`))
    await refused(t, h, 'DD_NO_AGENT_INSTALL without FIPS mode', { DD_API_KEY: TEST_API_KEY, DD_NO_AGENT_INSTALL: '1' }, 6, /DD_NO_AGENT_INSTALL without DD_FIPS_MODE leaves nothing to install/)
    await refused(t, h, 'DD_FIPS_PORT_RANGE_START without FIPS mode', { DD_API_KEY: TEST_API_KEY, DD_FIPS_PORT_RANGE_START: '10803' }, 6, /DD_FIPS_PORT_RANGE_START is the FIPS proxy's port range: it needs DD_FIPS_MODE/)
    for (const bad of ['abc', '80', '09803', String(65536 - product.ports.rangeSize + 1)]) {
      await refused(t, h, `DD_FIPS_PORT_RANGE_START=${bad}`, { ...FIPS_ENV, DD_FIPS_PORT_RANGE_START: bad }, 6, new RegExp(`DD_FIPS_PORT_RANGE_START='${bad}' is not a port from 1024 to ${65536 - product.ports.rangeSize}`))
    }
  })
})

test('a host the script cannot install on is refused with its exit code before anything changes', async (t) => {
  await withHost(async (h) => {
    // A port of the range held by another program: named in the error.
    const busyPort = product.ports.rangeStart + 3
    await h.sh(`busybox httpd -p 127.0.0.1:${busyPort} -h /tmp`)
    await refused(t, h, 'busy port', FIPS_ENV, 1, new RegExp(`port ${busyPort} is in use by \\d+/busybox`))
    await h.sh(`pkill -f '^busybox httpd -p 127.0.0.1:${busyPort}'`)

    // An existing datadog.yaml that is not valid YAML: left untouched.
    await h.sh(`mkdir -p ${product.agent.configDir} && printf "api_key: x\\nfips: [unclosed\\n" > ${product.agent.configDir}/datadog.yaml`)
    await refused(t, h, 'unparseable datadog.yaml', FIPS_ENV, 1, /datadog\.yaml is not valid YAML.*Nothing was changed/s)
    await h.sh(`rm -rf ${product.agent.configDir}`)

    const osRelease = (await h.sh('cat /etc/os-release')).out
    await h.sh('printf \'ID=arch\\nVERSION_ID=1\\n\' > /etc/os-release')
    await refused(t, h, 'unsupported distribution', FIPS_ENV, 5, /unsupported distribution 'arch'/)
    await h.sh('printf \'ID=debian\\nVERSION_ID="7"\\n\' > /etc/os-release')
    await refused(t, h, 'too old a release', FIPS_ENV, 5, /debian 7 is not supported \(minimum: debian 8\)/)
    await h.container.exec('cat > /etc/os-release', { input: osRelease })
  })
})
