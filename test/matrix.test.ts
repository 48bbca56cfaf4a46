// The matrix definition and the runner itself: every supported family and release is a row, the
// CI files are generated from the current definition, and a row broken on purpose is reported as
// failed, with the failing check named, in the table and in JUnit.
import test from 'ava'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { repoRoot } from '../scripts/lib/paths.ts'
import { loadProduct } from '../scripts/lib/product.ts'
import { ciFiles } from '../scripts/lib/ci-files.ts'
import { junitXml, loadMatrix, resultsMarkdown, runMatrix } from './matrix/runner.ts'

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
  t.deepEqual(rows.filter((r) => r.local && r.local !== 'rpm-root').map((r) => r.id), ['debian-11', 'debian-12', 'debian-13'])
  t.deepEqual(rows.filter((r) => r.local === 'rpm-root').map((r) => r.format), ['rpm-rhel', 'rpm-suse'])
  t.is(new Set(rows.map((r) => r.id)).size, rows.length, 'row ids are unique')
})

test('the committed CI files are the ones generated from the matrix definition', (t) => {
  for (const [file, content] of Object.entries(ciFiles(rows))) {
    t.is(readFileSync(path.join(repoRoot, file), 'utf8'), content, `${file} is stale: run make ci-files`)
  }
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
