// DD_FIPS_PORT_RANGE_START end to end on a Debian host (a systemd container), against a local
// signed repository: the proxy's listeners and the Agent's fips.port_range_start move together.
import test from 'ava'
import { agentConfig, loadProduct } from '../scripts/lib/product.ts'
import { REPO_PORT, debEnvFile, fipsInstallEnv, fipsSettings, mainPid, withInstallerHost as withHost, yamlOf } from './helpers/installer-host.ts'

const product = loadProduct()
const FIPS = fipsSettings(product)
const FIPS_ENV = fipsInstallEnv(product)
const ENV_FILE = debEnvFile(product)

test('DD_FIPS_PORT_RANGE_START moves the proxy and the Agent together; the same range changes nothing; a busy port in a new range is refused', async (t) => {
  await withHost(async (h) => {
    const listeners = async () => (await h.sh(`ss -ltnH | awk '{print $4}' | sort`)).out.trim().split('\n').filter((a) => a !== `127.0.0.1:${REPO_PORT}`).sort()
    const range = (start: number) => product.ports.services.map((s) => `127.0.0.1:${start + s.offset}`).sort()
    const metricsOffset = product.ports.services.find((s) => s.name === 'metrics')!.offset
    const moved = product.ports.rangeStart + 1000
    const first = await h.install({ ...FIPS_ENV, DD_FIPS_PORT_RANGE_START: String(moved) })
    t.is(first.code, 0, first.out)
    t.is((await h.sh(`grep -v '^#' ${ENV_FILE}`)).out, `DD_FIPS_PORT_RANGE_START=${moved}\n`)
    t.deepEqual((await yamlOf(h, agentConfig(product))).fips, { ...FIPS, port_range_start: moved })
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
    t.deepEqual((await yamlOf(h, agentConfig(product))).fips, { ...FIPS, port_range_start: next })
    t.deepEqual(await listeners(), range(next))
    const after = [await mainPid(h, product.name), await mainPid(h, 'datadog-agent')]
    t.not(after[0], pids[0], 'the proxy restarted')
    t.not(after[1], pids[1], 'the Agent restarted')
  })
})
