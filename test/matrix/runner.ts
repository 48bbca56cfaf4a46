// The distro matrix runner (make matrix): the rows of matrix.yaml that this machine can run, in
// parallel up to a limit, each with a time limit, containers always removed; a markdown table
// and JUnit XML of the results. A row runs from an image built here (debootstrap), in a Debian
// chroot (rpm --root), or from its distribution's image when the engine can pull it (a CI runner
// with a registry); where it cannot, the row is reported as not run, with the engine's reason.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type EngineName, engine, preparedImage, pullImage, removeContainersNamed } from '../harness/containers.ts'
import { formatDuration } from '../../scripts/lib/exec.ts'
import { TLS12_CIPHERS, TLS13_SUITES } from '../../scripts/lib/haproxy-config.ts'
import { packageVersion } from '../../scripts/lib/packages.ts'
import { type PackageFormat, type Product, configDirCaBundle, exampleConfig, fipsinstallPath, liveConfig, loadProduct, runHaproxyPath, selfCheckPath } from '../../scripts/lib/product.ts'
import { distPackage } from '../helpers/dist.ts'
import { buildDir } from '../../scripts/lib/paths.ts'
import { type InstallerHost, agentYamlValues, containerHost, debianImage, fipsInstallEnv, releasePackages, serveFixtureIntake, servedTree, testRepository } from '../helpers/installer-host.ts'
import { FIXTURE_AGENT_VERSION, FIXTURE_POSTINST_HOLD } from '../fixtures/datadog-agent/fixture-agent.ts'
import { type Assertion, type Check, Collector } from './checks.ts'
import { NEXT_VERSION, buildNextPackages, debianChroot, rpmRootScenario } from './chroot-scenarios.ts'
import { type MatrixRow, type Placement, placement } from './definition.ts'
import { type Platform, platform, prepareScript } from './platforms.ts'
import { ROW_ARCH } from './row-inputs.ts'
import { becomeRpmHost, standInDescription, standInImage, standInPlatform } from './stand-ins.ts'
import { type TamperedTrees, tamperedTrees } from './tampered.ts'
import { caBundleLinkTarget, keepVendorConfigCommand, vendorResolutionFromLibcCommand } from '../helpers/vendor-dialect.ts'

export interface RowResult {
  row: MatrixRow
  status: 'passed' | 'failed' | 'not run'
  // The container engine that ran the row; none for chroot rows and rows not run.
  engine?: EngineName
  ranOn: string
  seconds: number
  assertions: Assertion[]
  error?: string
}

export interface MatrixOptions {
  rows: MatrixRow[]
  jobs: number
  rowTimeoutSeconds: number
  // Shell run on the host before the install (the runner's own test breaks a row on purpose).
  beforeInstall?: string
}

const ROW_CONTAINER_PREFIX = 'dd-fips-matrix-'

interface Context {
  product: Product
  // This release's repositories, and a newer release's beside this one's packages (as a real
  // repository keeps older versions).
  served: string
  next: string
  beforeInstall?: string
}

// What rows run from, each built once and only when a row needs it.
interface Sources {
  // the packages of a newer release, for upgrades (every row)
  nextPackages(): Promise<(format: string) => string>
  // the served repositories of this and of the newer release (install rows)
  context(): Promise<Context>
  // altered copies of the served tree (RPM install rows)
  tampered(): Promise<TamperedTrees>
}

// The one-line install on a real systemd host, and everything the release promises after it; the
// package manager's part (queries, reinstall, removal, CA store) is the row's format's.
async function installRow(t: Check, ctx: Context, h: InstallerHost, format: PackageFormat, pf: Platform): Promise<void> {
  const p = ctx.product
  if (ctx.beforeInstall) await h.sh(ctx.beforeInstall)
  if (pf.refusals) await tamperedRefused(t, p, h, pf)
  // The first install is cut off in the middle of its package transaction (the FIXTURE Agent's
  // postinst holds it), then run again plainly: everything below checks what that run converged to.
  await h.sh(`touch ${FIXTURE_POSTINST_HOLD.hold}`)
  const cutOff = await h.killedInstall(fipsInstallEnv(p), `[ -e ${FIXTURE_POSTINST_HOLD.held} ]`).then(() => 'killed', (err: Error) => err.message)
  t.is(cutOff, 'killed', `an install killed mid-transaction (${pf.manager})`)
  await h.sh(`rm -f ${FIXTURE_POSTINST_HOLD.hold} ${FIXTURE_POSTINST_HOLD.held}`)
  const first = await h.install(fipsInstallEnv(p))
  // On failure the report carries the end of the script's output.
  t.is(first.code === 0 ? 'exit 0' : `exit ${first.code}: ${lastLines(first.out)}`, 'exit 0', 'the one-line install exits 0')
  if (first.code !== 0) return
  t.is((await h.sh(pf.installedTwice)).out, '', 'no package half-installed or installed twice')
  t.regex((await h.sh(pf.version('datadog-agent'))).out, new RegExp(`^(\\d+:)?${FIXTURE_AGENT_VERSION.replaceAll('.', '\\.')}-`), `the FIXTURE datadog-agent ${FIXTURE_AGENT_VERSION} is installed`)
  t.is((await h.sh(pf.version(p.name))).out.trim(), packageVersion(p, format, p.version), `${p.name} ${p.version} is installed`)
  t.is((await h.sh(pf.owner(`${p.paths.embedded}/sbin/haproxy`))).out.trim(), p.name, `${p.paths.embedded}/sbin/haproxy is ${p.name}'s in the package database`)
  // The same query names the example's package (so a failing query cannot pass for "no owner").
  t.is((await h.sh(pf.owner(exampleConfig(p)))).out.trim(), p.name, `the owner query names ${p.name} for the example`)
  const liveOwner = await h.sh(pf.owner(liveConfig(p)))
  t.is(liveOwner.code === 1 && !liveOwner.out.split('\n').includes(p.name) ? 'no owner' : `exit ${liveOwner.code}: ${liveOwner.out}`, 'no owner', 'the live config is no package\'s: the operator\'s')
  t.is((await h.sh(`stat -c %U:%G:%a ${liveConfig(p)}`)).out.trim(), `${p.user}:${p.group}:640`, 'live config dd-agent:dd-agent 640')
  t.is((await h.sh(`stat -c %U:%G:%a ${exampleConfig(p)} ${p.paths.embedded}/sbin/haproxy`)).out.trim(), 'root:root:644\nroot:root:755', 'example and binary owned by root')
  t.is((await h.sh(`test -s ${p.paths.embedded}/ssl/fipsmodule.cnf && ${fipsinstallPath(p)}`)).code, 0, 'fipsmodule.cnf generated on this host and verified')
  t.is(JSON.stringify(await agentYamlValues(h, p, ['fips.enabled', 'fips.https', 'fips.port_range_start'])), JSON.stringify({ 'fips.enabled': 'true', 'fips.https': 'false', 'fips.port_range_start': String(p.ports.rangeStart) }), 'datadog.yaml has the fips settings')
  t.is((await h.sh(`systemctl is-active ${p.name}`)).out.trim(), 'active', 'the unit is active')
  // No `ss -H`: iproute2 before 4.15 (CentOS 7, Debian 8-9) does not have it.
  const listeners = (await h.sh(`ss -ltn | awk 'NR > 1 { print $4 }'`)).out.split('\n').filter((a) => {
    const port = Number(a.split(':').at(-1))
    return port >= p.ports.rangeStart && port <= p.ports.rangeEnd
  }).sort()
  t.is(listeners, p.ports.services.map((s) => `127.0.0.1:${s.port}`).sort(), `ports ${p.ports.rangeStart}-${p.ports.rangeEnd} listen, on loopback only`)
  t.regex((await h.sh(`curl -s http://localhost:${p.ports.rangeStart + 1}/`)).out, /No server is available to handle this request/, `HAProxy answers on ${p.ports.rangeStart + 1}`)
  await relayCheck(t, p, h, pf)
  await movedRangeCheck(t, p, h, format)

  await h.mark()
  const again = await h.install(fipsInstallEnv(p))
  t.is(again.code, 0, 'a re-run exits 0')
  t.is(await h.changedSinceMark(), [], 'a re-run changes no file')

  // Upgrade: the operator edits the live config, then a newer release is published.
  await h.sh(`echo '# operator change' >> ${liveConfig(p)}`)
  const before = (await h.sh(`sha256sum ${liveConfig(p)}`)).out
  await h.serve('/srv/repo-next')
  // Pinned to this release, the script keeps it though a newer one is there. The pin is the value
  // an operator gives every host, without SUSE's release suffix (the script adds it on zypper). The
  // Agent pinned to its minor version, which each package manager takes in its own terms (a
  // pattern for apt and dnf, a range for zypper): the newest of it is installed already.
  const pin = packageVersion(p, p.packages.find((f) => f.id === 'rpm-rhel')!, p.version)
  const agentMinor = FIXTURE_AGENT_VERSION.split('.')[1]
  const pinned = await h.install({ ...fipsInstallEnv(p), DD_FIPS_PROXY_VERSION: pin, DD_AGENT_MINOR_VERSION: agentMinor })
  t.is(pinned.code === 0 ? 'exit 0' : `exit ${pinned.code}: ${lastLines(pinned.out)}`, 'exit 0', `DD_FIPS_PROXY_VERSION=${pin} DD_AGENT_MINOR_VERSION=${agentMinor} with a newer release published exits 0`)
  t.is((await h.sh(pf.version(p.name))).out.trim(), packageVersion(p, format, p.version), `DD_FIPS_PROXY_VERSION pins ${p.version} through ${pf.manager}`)
  const upgrade = await h.install(fipsInstallEnv(p))
  t.is(upgrade.code, 0, 'the install script upgrades to the newer release')
  t.is((await h.sh(pf.version(p.name))).out.trim(), packageVersion(p, format, NEXT_VERSION), `upgraded to ${NEXT_VERSION}`)
  t.is((await h.sh(`sha256sum ${liveConfig(p)}`)).out, before, 'the modified live config survived the upgrade')
  t.is((await h.sh(`systemctl is-active ${p.name}`)).out.trim(), 'active', 'the proxy runs after the upgrade')

  // A restart stops the HAProxy master: it must exit promptly (a lingering master was a real bug
  // on glibc 2.31, where the master lost errno; systemd's stop timeout hid it).
  const restart = await h.sh(`s=$(date +%s%N); systemctl restart ${p.name}; echo $(( ($(date +%s%N) - s) / 1000000 ))`)
  const ms = Number(restart.out.trim())
  t.is(ms < 8000 ? 'under 8 s' : `${ms} ms`, 'under 8 s', 'systemctl restart takes under 8 s')
  t.is((await h.sh(`systemctl is-active ${p.name}`)).out.trim(), 'active', 'the proxy runs after a restart')

  // An upgrade restarts the proxy only if it was running: a stopped one stays stopped.
  await h.sh(`systemctl stop ${p.name}`)
  t.is((await h.sh(pf.reinstall(p.name))).code, 0, `a ${pf.manager} reinstall (an upgrade to the same version) exits 0`)
  t.regex((await h.sh(`systemctl is-active ${p.name} || true`)).out, /inactive/, 'an upgrade leaves a stopped proxy stopped')
  await h.sh(`systemctl start ${p.name}`)
  await vendorConfigCheck(t, p, h, format, pf)

  // The proxy's journal to Datadog (DD_FIPS_PROXY_LOGS_ENABLED): the self-check sees that the Agent
  // may read it.
  const logs = await h.install({ ...fipsInstallEnv(p), DD_FIPS_PROXY_LOGS_ENABLED: 'true' })
  t.is(logs.code, 0, 'DD_FIPS_PROXY_LOGS_ENABLED=true exits 0')
  t.regex(logs.out, /\n {2}PASS {2}logs +the Agent collects/, "the self-check: the Agent may read the proxy's journal")

  const remove = await h.sh(`${pf.remove(p.name)} 2>&1`)
  t.is(remove.code, 0, `${pf.manager} remove exits 0`)
  t.regex((await h.sh(`systemctl is-active ${p.name} || true`)).out, /inactive|unknown/, 'removal stopped the service')
  t.is((await h.sh(`ss -ltn | grep -c ':${p.ports.rangeStart + 1} ' || true`)).out.trim(), '0', 'nothing listens any more')
  t.is((await h.sh(`find ${p.paths.prefix} 2>/dev/null | head -5`)).out, '', `nothing is left under ${p.paths.prefix}, fipsmodule.cnf included`)
  t.regex(remove.out, /datadog\.yaml still has fips\.enabled: true: the Agent sends its data to the proxy's ports, where nothing listens any more/, 'removal says the Agent now sends nowhere')
  t.regex(remove.out, /DD_FIPS_REVERT=1 bash -c/, 'and names the command that reverts it')
}

// A live config in the vendor's dialect (test/fixtures/vendor-dialect.cfg) in place, as the vendor's
// package leaves it, then our package installed over it (a reinstall): the config is kept, its
// `ca-file ca-certificates.crt` finds our link to the family's bundle, and the proxy relays on it to
// relayCheck's intake. The row's own live config is put back afterwards.
async function vendorConfigCheck(t: Check, p: Product, h: InstallerHost, format: PackageFormat, pf: Platform): Promise<void> {
  const live = liveConfig(p)
  t.is((await h.sh(`cp -p ${live} /root/live.cfg && ${keepVendorConfigCommand(p)} && chown ${p.user}:${p.group} ${live}`)).code, 0, 'a vendor-dialect live config in place')
  const before = (await h.sh(`sha256sum ${live}`)).out
  t.is((await h.sh(pf.reinstall(p.name))).code, 0, `a ${pf.manager} reinstall over a vendor-dialect live config exits 0`)
  t.is((await h.sh(`sha256sum ${live}`)).out, before, 'the vendor-dialect live config is kept')
  t.is(caBundleLinkTarget(p, (await h.sh(`readlink ${configDirCaBundle(p)}`)).out), format.caBundle, `${configDirCaBundle(p)} links to the family's bundle`)
  t.is((await h.sh(`${runHaproxyPath(p)} -c -f ${live}`)).code, 0, 'haproxy -c accepts the vendor-dialect config')
  await h.sh(vendorResolutionFromLibcCommand(p))
  const setup = await serveFixtureIntake(h, p, pf.trustCa)
  t.is(setup.code === 0 ? 'ok' : (setup.out + setup.err).trim().slice(-400), 'ok', 'the proxy restarted on the vendor-dialect config')
  await relayedRequest(t, p, h, relayedService(p).port)
  await h.sh(`cp -p /root/live.cfg ${live} && systemctl restart ${p.name}`)
}

// The end of a script's output, for a failure's report.
const lastLines = (out: string) => out.trim().split('\n').slice(-6).join(' / ')

// Served trees that were altered (tampered.ts): the package manager refuses each, through the
// install script, and installs nothing, neither the proxy nor the Agent of the same transaction.
async function tamperedRefused(t: Check, p: Product, h: InstallerHost, pf: Platform): Promise<void> {
  const refusals = pf.refusals!
  for (const [tree, what, reason] of [
    [TAMPERED_TREES.metadata, 'a repomd.xml altered after signing', refusals.metadata],
    [TAMPERED_TREES.rpm, `a ${p.name} RPM altered in a signed repository`, refusals.rpm],
  ] as const) {
    await h.serve(`/srv/${tree}`)
    const r = await h.install(fipsInstallEnv(p))
    t.is(r.code === 0 ? 'exit 0' : 'refused', 'refused', `${what} is refused: the install fails`)
    t.regex(r.out, reason, `${what}: ${pf.manager} says why`)
    t.is((await h.sh(`${pf.version('datadog-agent')}; ${pf.version(p.name)}`)).out, '', `${what}: nothing is installed`)
  }
  await h.serve('/srv/repo')
}

// Where the tampered trees are mounted (/srv/<name>).
const TAMPERED_TREES = { metadata: 'repo-tampered-metadata', rpm: 'repo-tampered-rpm' } as const

// The service the relay check follows: metrics, the first relay of the range.
const relayedService = (p: Product) => p.ports.services.find((s) => s.kind === 'relay')!

// A request to the metrics port arrives, over TLS with the shipped settings, at a FIXTURE intake
// that answers as every upstream host (installer-host.ts serveFixtureIntake); then the package's
// self-check passes every check, the backends' included.
async function relayCheck(t: Check, p: Product, h: InstallerHost, pf: Platform): Promise<void> {
  const setup = await serveFixtureIntake(h, p, pf.trustCa)
  t.is(setup.code === 0 ? 'ok' : (setup.out + setup.err).trim().slice(-400), 'ok', 'the fixture intake is set up')
  await relayedRequest(t, p, h, relayedService(p).port)
  const check = await h.sh(selfCheckPath(p))
  t.is(check.code === 0 ? 'exit 0' : `exit ${check.code}: ${check.out.split('\n').filter((l) => /^FAIL/.test(l)).join(' / ')}`, 'exit 0', `${selfCheckPath(p)} passes every check`)
  t.is(check.out.split('\n').filter((l) => /^PASS /.test(l)).length, 5 + p.ports.services.reduce((n, s) => n + (s.kind === 'relay' ? 1 + s.routes.length : 0), 0), 'one PASS line per check and per backend')
}

// A request to the metrics port `port` arrives at relayCheck's TLS intake.
async function relayedRequest(t: Check, p: Product, h: InstallerHost, port: number): Promise<void> {
  const metrics = relayedService(p)
  let answer = ''
  for (let i = 0; i < 20 && !/s_server/.test(answer); i++) {
    answer = (await h.sh(`sleep 0.5; curl -s -m 5 http://127.0.0.1:${port}/api/v2/series`)).out
  }
  t.regex(answer, /s_server -accept/, `a request to ${port} arrives at the TLS intake ${metrics.upstream}`)
  t.regex(answer, new RegExp(`Cipher is (${[...TLS13_SUITES, ...TLS12_CIPHERS].join('|')})`), 'over TLS with an AES-GCM cipher')
}

// DD_FIPS_PORT_RANGE_START through the format's environment file: the proxy and the Agent move
// together and the moved metrics port relays to relayCheck's intake; then back to the default.
async function movedRangeCheck(t: Check, p: Product, h: InstallerHost, format: PackageFormat): Promise<void> {
  const moved = p.ports.rangeStart + 1000
  const r = await h.install({ ...fipsInstallEnv(p), DD_FIPS_PORT_RANGE_START: String(moved) })
  t.is(r.code === 0 ? 'exit 0' : `exit ${r.code}: ${lastLines(r.out)}`, 'exit 0', `DD_FIPS_PORT_RANGE_START=${moved} exits 0`)
  t.is((await h.sh(`grep -v '^#' ${format.envFile}`)).out, `DD_FIPS_PORT_RANGE_START=${moved}\n`, `${format.envFile} has the moved range`)
  t.is((await agentYamlValues(h, p, ['fips.port_range_start']))['fips.port_range_start'], String(moved), 'and datadog.yaml the same')
  const listening = (await h.sh(`ss -ltn | awk 'NR > 1 { print $4 }'`)).out.split('\n').filter((a) => /^127\.0\.0\.1:\d+$/.test(a) && Number(a.split(':')[1]) >= p.ports.rangeStart && Number(a.split(':')[1]) < moved + p.ports.rangeSize).sort()
  t.is(listening, p.ports.services.map((s) => `127.0.0.1:${moved + s.offset}`).sort(), `every listener moved to ${moved}-${moved + p.ports.rangeSize - 1}`)
  await relayedRequest(t, p, h, moved + relayedService(p).offset)
  const back = await h.install({ ...fipsInstallEnv(p), DD_FIPS_PORT_RANGE_START: String(p.ports.rangeStart) })
  t.is(back.code, 0, `back to ${p.ports.rangeStart}: exit 0`)
}

// The distribution's image with what the checks need (platforms.ts), prepared with network and
// cached per row under a tag naming the base image and the script.
async function preparedRowImage(row: MatrixRow, image: string, format: PackageFormat): Promise<string> {
  try {
    return await preparedImage(image, `${ROW_CONTAINER_PREFIX}${row.id}`, prepareScript(format), path.join(buildDir, 'logs', `matrix-prepare-${row.id}.log`))
  } catch (err) {
    throw new Error(`preparing ${image} failed: ${(err as Error).message}. An image whose distribution repositories moved (CentOS 7's to vault.centos.org, old Debian releases' to archive.debian.org) cannot install anything: give the row an image whose repositories answer, MATRIX_IMAGES=${row.id}=<image>`)
  }
}

// `timedOut` is aborted when the row's time limit strikes: from then on the row creates nothing.
async function runRow(row: MatrixRow, where: Exclude<Placement, { kind: 'nowhere' }>, product: Product, sources: Sources, log: (line: string) => void, timedOut: AbortSignal): Promise<Omit<RowResult, 'seconds'>> {
  let host: InstallerHost | undefined
  // A failed check's report carries the stderr of the command it checked.
  const t = new Collector(() => host?.lastErr() ?? '')
  const format = product.packages.find((f) => f.id === row.format)!
  const outcome = (ranOn: string, engineName?: EngineName): Omit<RowResult, 'seconds'> => ({ row, status: t.failed.length ? 'failed' : 'passed', engine: engineName, ranOn, assertions: t.assertions })
  if (where.kind === 'rpm-root') {
    const nextPackage = await sources.nextPackages()
    timedOut.throwIfAborted()
    const { root, remove } = await debianChroot()
    try {
      await rpmRootScenario(t, product, format, distPackage(row.format, ROW_ARCH), nextPackage(row.format), root)
    } finally {
      remove()
    }
    return outcome('Debian chroot, rpm --root (not a real RHEL/SUSE host)')
  }
  const bin = (await engine()).bin
  const standIn = where.kind === 'debootstrap' ? where.standIn : undefined
  let image: string
  let ranOn: string
  if (where.kind === 'debootstrap') {
    image = standIn ? await standInImage(where.suite, standIn) : await debianImage(where.suite)
    ranOn = standIn ? standInDescription(where.suite, standIn) : `Debian ${where.suite} container (debootstrap), systemd`
  } else {
    const pulled = await pullImage(where.image)
    if (!pulled.ok) return { row, status: 'not run', ranOn: `needs the image ${where.image}, which ${bin} cannot pull: ${pulled.reason}`, assertions: [] }
    log(`[matrix] ${row.id}: preparing ${where.image} (or reusing it, see test/README.md)`)
    image = await preparedRowImage(row, where.image, format)
    ranOn = `${where.image} container, systemd`
  }
  const pf = standIn ? standInPlatform(row.format) : platform(row.format)
  const ctx = await sources.context()
  const tampered = pf.refusals ? await sources.tampered() : undefined
  timedOut.throwIfAborted()
  const h = host = await containerHost({
    image, platform: pf, product, name: `${ROW_CONTAINER_PREFIX}${row.id}-${process.pid}`,
    trees: { repo: ctx.served, 'repo-next': ctx.next, ...(tampered ? { [TAMPERED_TREES.metadata]: tampered.metadata, [TAMPERED_TREES.rpm]: tampered.rpm } : {}) },
    log: path.join(buildDir, 'logs', `matrix-${row.id}.log`),
  })
  try {
    if (standIn) await becomeRpmHost(h, standIn, product, format)
    await installRow(t, ctx, h, format, pf)
  } finally {
    await h.container.remove()
  }
  return outcome(ranOn, bin)
}

// Runs fn, giving up after `seconds`; fn is told through the signal, so that it stops creating things.
async function withTimeout<T>(seconds: number, what: string, fn: (timedOut: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort()
      reject(new Error(`${what}: time limit of ${seconds}s exceeded`))
    }, seconds * 1000)
  })
  try {
    return await Promise.race([fn(controller.signal), timeout])
  } finally {
    clearTimeout(timer)
  }
}

export async function runMatrix(opts: MatrixOptions, log: (line: string) => void = console.error): Promise<RowResult[]> {
  const product = loadProduct()
  let next: ReturnType<Sources['nextPackages']> | undefined
  let ctx: ReturnType<Sources['context']> | undefined
  let tampered: ReturnType<Sources['tampered']> | undefined
  const sources: Sources = {
    nextPackages: () => next ??= buildNextPackages(product),
    context: () => ctx ??= (async () => {
      const nextPackage = await sources.nextPackages()
      const served = await testRepository()
      return { product, beforeInstall: opts.beforeInstall, served, next: await servedTree((format) => [...releasePackages(format), nextPackage(format)]) }
    })(),
    tampered: () => tampered ??= sources.context().then((c) => tamperedTrees(c.served, product)),
  }
  const results: RowResult[] = []
  const queue: { row: MatrixRow; where: Exclude<Placement, { kind: 'nowhere' }> }[] = []
  for (const row of opts.rows) {
    const where = placement(row)
    if (where.kind === 'nowhere') results.push({ row, status: 'not run', seconds: 0, assertions: [], ranOn: where.reason })
    else queue.push({ row, where })
  }
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { row, where } = next
      const started = Date.now()
      log(`[matrix] ${row.id}: started`)
      let result: Omit<RowResult, 'seconds'>
      try {
        result = await withTimeout(opts.rowTimeoutSeconds, row.id, (timedOut) => runRow(row, where, product, sources, log, timedOut))
      } catch (err) {
        result = { row, status: 'failed', ranOn: 'error', assertions: [], error: (err as Error).message }
      }
      const seconds = Math.round((Date.now() - started) / 1000)
      results.push({ ...result, seconds })
      const failed = result.assertions.filter((a) => !a.ok).length
      const detail = result.status === 'not run' ? `: ${result.ranOn}` : ` (${result.assertions.length - failed}/${result.assertions.length} checks) in ${formatDuration(seconds * 1000)}${result.error ? `: ${result.error}` : ''}`
      log(`[matrix] ${row.id}: ${result.status}${detail}`)
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.jobs) }, worker))
  } finally {
    // A row stopped by its time limit never reaches its own clean-up: remove what this run left.
    await removeContainersNamed(new RegExp(`^${ROW_CONTAINER_PREFIX}.*-${process.pid}$`))
  }
  const order = opts.rows.map((r) => r.id)
  return results.sort((a, b) => order.indexOf(a.row.id) - order.indexOf(b.row.id))
}

export function resultsMarkdown(results: RowResult[]): string {
  const lines = [
    '| row | image | format | init | status | checks | time | engine | ran on |',
    '|---|---|---|---|---|---|---|---|---|',
    ...results.map((r) => {
      const ok = r.assertions.filter((a) => a.ok).length
      return `| ${r.row.id} | ${r.row.image ?? '—'} | ${r.row.format} | ${r.row.init} | ${r.status} | ${r.assertions.length ? `${ok}/${r.assertions.length}` : '—'} | ${r.seconds}s | ${r.engine ?? '—'} | ${r.ranOn} |`
    }),
  ]
  const failures = results.flatMap((r) => [
    ...(r.error ? [`- ${r.row.id}: ${r.error}`] : []),
    ...r.assertions.filter((a) => !a.ok).map((a) => `- ${r.row.id}: ${a.name}${a.detail ? ` (${a.detail.replace(/\n/g, ' ').slice(0, 300)})` : ''}`),
  ])
  return `${lines.join('\n')}\n${failures.length ? `\nFailures:\n${failures.join('\n')}\n` : ''}`
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

export function junitXml(results: RowResult[]): string {
  const cases = results.flatMap((r) => {
    if (r.status === 'not run') return [`    <testcase classname="matrix.${xml(r.row.id)}" name="row" time="0"><skipped message="${xml(r.ranOn)}"/></testcase>`]
    if (r.error) return [`    <testcase classname="matrix.${xml(r.row.id)}" name="row" time="${r.seconds}"><failure message="${xml(r.error)}"/></testcase>`]
    return r.assertions.map((a) => `    <testcase classname="matrix.${xml(r.row.id)}" name="${xml(a.name)}">${a.ok ? '' : `<failure message="${xml(a.detail ?? 'failed')}"/>`}</testcase>`)
  })
  const failures = results.reduce((n, r) => n + (r.error ? 1 : r.assertions.filter((a) => !a.ok).length), 0)
  const skipped = results.filter((r) => r.status === 'not run').length
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="distro-matrix" tests="${cases.length}" failures="${failures}" skipped="${skipped}">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`
}

export function writeReports(results: RowResult[], outDir: string): { markdown: string; junit: string } {
  mkdirSync(outDir, { recursive: true })
  const markdown = path.join(outDir, 'results.md')
  const junit = path.join(outDir, 'junit.xml')
  writeFileSync(markdown, resultsMarkdown(results))
  writeFileSync(junit, junitXml(results))
  return { markdown, junit }
}
