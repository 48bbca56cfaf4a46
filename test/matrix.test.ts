// The matrix definition and the runner itself: every supported family and release is a row, a
// row broken on purpose is reported as failed, with the failing check named, in the table and in
// JUnit; a row whose image cannot be pulled is reported as not run, with the reason; a
// distribution's bare image is prepared and passes the checks (registry mode, with a bare Debian
// imported here standing in for the registry's).
import test from 'ava'
import { $ } from 'zx'
import { engine, importImage } from './harness/containers.ts'
import { cacheDir } from '../scripts/lib/paths.ts'
import { loadProduct } from '../scripts/lib/product.ts'
import { debianRootfsTarball } from './harness/rootfs.ts'
import { prepareScript } from './matrix/platforms.ts'
import { loadMatrix, placement } from './matrix/definition.ts'
import { Collector } from './matrix/checks.ts'
import { junitXml, resultsMarkdown, runMatrix } from './matrix/runner.ts'

const product = loadProduct()
const rows = loadMatrix()

test('the matrix covers every supported family from its oldest release, and rows run here', (t) => {
  for (const target of product.targets) {
    const releases = rows.filter((r) => r.family === target.family && r.checks === 'install').map((r) => r.release)
    t.true(releases.includes(target.minVersion), `${target.family} ${target.minVersion} (the oldest supported) is a row`)
  }
  for (const id of ['debian-8', 'debian-13', 'ubuntu-14.04', 'ubuntu-24.04', 'centos-7', 'rocky-9', 'alma-8', 'amazonlinux-2023', 'opensuse-leap-15', 'sles-12', 'sles-15']) {
    t.truthy(rows.find((r) => r.id === id), id)
  }
  t.deepEqual(rows.filter((r) => r.local && r.local !== 'rpm-root' && !r.local.standIn).map((r) => r.id), ['debian-11', 'debian-12', 'debian-13'])
  // The RPM install path through a real dnf and zypper, on stand-ins named for what they are.
  t.deepEqual(rows.filter((r) => r.local && r.local !== 'rpm-root' && r.local.standIn).map((r) => [r.id, r.format]), [['dnf-on-debian', 'rpm-rhel'], ['zypper-on-debian', 'rpm-suse']])
  t.deepEqual(rows.filter((r) => r.local === 'rpm-root').map((r) => r.format), ['rpm-rhel', 'rpm-suse'])
  t.is(new Set(rows.map((r) => r.id)).size, rows.length, 'row ids are unique')
})

test('every row runs somewhere but upstart and image-less ones (test/ci-files.test.ts: each is a CI job)', (t) => {
  const nowhere = rows.filter((r) => placement(r).kind === 'nowhere')
  t.deepEqual(nowhere.map((r) => [r.id, placement(r)]), [
    ['ubuntu-14.04', { kind: 'nowhere', reason: 'needs an upstart host (VM), not a container' }],
    ['sles-12', { kind: 'nowhere', reason: 'no public image' }],
  ])
  for (const r of rows.filter((r) => !r.local && r.image && r.init === 'systemd')) t.deepEqual(placement(r), { kind: 'registry', image: r.image }, r.id)
})

test('a failed check\'s report carries the stderr of the command it checked, a passed one nothing', (t) => {
  const c = new Collector(() => 'Failed to add conmon to cgroupfs sandbox cgroup')
  c.is('active', 'active', 'passes')
  c.is('', 'active', 'fails')
  t.deepEqual(c.assertions.map((a) => a.ok), [true, false])
  t.is(c.assertions[0].detail, undefined)
  t.is(c.assertions[1].detail, 'got "", expected "active"; stderr: Failed to add conmon to cgroupfs sandbox cgroup')
})

test('the scripts preparing a distribution\'s image are POSIX sh (shellcheck)', async (t) => {
  for (const format of product.packages) {
    const r = await $({ nothrow: true, quiet: true, input: prepareScript(format) })`shellcheck -s sh -`
    t.is(r.exitCode, 0, `${format.id}: ${r.stdout}`)
  }
})

test.serial('a row whose image cannot be pulled is not run, and the report gives the engine\'s reason', async (t) => {
  const image = 'localhost/dd-fips-matrix-no-such-image:none'
  const row = { ...rows.find((r) => r.id === 'debian-10')!, image }
  const [result] = await runMatrix({ rows: [row], jobs: 1, rowTimeoutSeconds: 120 }, () => {})
  t.is(result.status, 'not run')
  t.deepEqual(result.assertions, [])
  t.regex(result.ranOn, /^needs the image localhost\/dd-fips-matrix-no-such-image:none, which (docker|podman) cannot pull: \S/)
  t.regex(resultsMarkdown([result]), /\| debian-10 \|.*\| not run \|/)
  t.regex(junitXml([result]), /<testcase classname="matrix\.debian-10" name="row" time="0"><skipped message="needs the image /)
})

// The apt family's registry path: a bare minbase Debian (no systemd, curl, gnupg, busybox), as
// distributions publish their images, is prepared with network and then passes every check.
test.serial('a registry row: a bare distribution image is prepared, then passes the checks', async (t) => {
  const image = await importImage(await debianRootfsTarball('bookworm', cacheDir(), []), 'dd-fips-debian-bookworm-minbase')
  const row = { ...rows.find((r) => r.id === 'debian-12')!, image, local: undefined }
  t.is(placement(row).kind, 'registry')
  const [result] = await runMatrix({ rows: [row], jobs: 1, rowTimeoutSeconds: 600 }, () => {})
  t.is(result.status, 'passed', resultsMarkdown([result]))
  t.regex(result.ranOn, new RegExp(`^${image.replace(/[.]/g, '\\.')} container`))
  // It ran to the end: the last check, after the upgrade and the removal, is there.
  t.like(result.assertions.map((a) => a.name), { [result.assertions.length - 1]: 'and names the command that reverts it' })
})

test.serial('a row past its time limit fails, and leaves no container behind', async (t) => {
  // The install never comes: the row hangs until its time limit (or ends before its container).
  const [result] = await runMatrix({ rows: rows.filter((r) => r.id === 'debian-12'), jobs: 1, rowTimeoutSeconds: 30, beforeInstall: 'sleep 600' }, () => {})
  t.is(result.status, 'failed')
  t.regex(result.error ?? '', /debian-12: time limit of 30s exceeded/)
  const e = await engine()
  const left = await $({ quiet: true, env: e.env })`${e.bin} ps -a --format {{.Names}}`
  t.false(left.stdout.split('\n').some((n) => n.endsWith(`-${process.pid}`)), left.stdout)
})

test.serial('a row broken on purpose fails, and the report names the failing check', async (t) => {
  // Another program holds a port of the proxy's range before the one-line install.
  const results = await runMatrix({
    rows: rows.filter((r) => r.id === 'debian-12'),
    jobs: 1,
    rowTimeoutSeconds: 300,
    beforeInstall: `busybox httpd -p 127.0.0.1:${product.ports.rangeStart + 5} -h /tmp`,
  }, () => {})
  t.is(results.length, 1)
  const [row] = results
  t.is(row.status, 'failed')
  const failed = row.assertions.filter((a) => !a.ok).map((a) => a.name)
  t.true(failed.includes('the one-line install exits 0'), failed.join(', '))
  t.regex(resultsMarkdown(results), /\| debian-12 \|.*\| failed \|/)
  t.regex(resultsMarkdown(results), /Failures:\n- debian-12: the one-line install exits 0/)
  t.regex(junitXml(results), /<testcase classname="matrix\.debian-12" name="the one-line install exits 0"><failure /)
})
