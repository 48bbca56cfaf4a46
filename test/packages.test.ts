// Checks on the packages in dist/: contents, owners and modes, the generated files, the lint
// tools, shellcheck on the maintainer scripts, the unit, and the rpm header flags old rpms need.
import test from 'ava'
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { distDir, repoRoot } from '../scripts/lib/paths.ts'
import { exampleConfig, fipsinstallPath, liveConfig, loadProduct, portVariable, runHaproxyPath, selfCheckPath } from '../scripts/lib/product.ts'
import { sha256File } from '../scripts/lib/sources.ts'
import { distPackage, manifest } from './helpers/dist.ts'
import { ProxyTree } from './helpers/proxy-tree.ts'

const product = loadProduct()
const E = product.paths.embedded
const q = { quiet: true }

interface Entry { mode: string; owner: string; path: string; link?: string }

// `dpkg-deb -c` and `rpm -qplv` both print ls -l style lines.
function parseListing(text: string, deb: boolean): Entry[] {
  return text.trim().split('\n').map((line) => {
    const f = line.trim().split(/\s+/)
    const owner = deb ? f[1] : `${f[2]}/${f[3]}`
    const rest = deb ? f.slice(5).join(' ') : f.slice(8).join(' ')
    const [p, link] = rest.split(' -> ')
    return { mode: f[0], owner, path: p.replace(/^\.\//, '/').replace(/\/$/, '') || '/', link }
  })
}

async function listing(format: string, arch: string): Promise<Entry[]> {
  const file = distPackage(format, arch)
  return format === 'deb'
    ? parseListing((await $(q)`dpkg-deb -c ${file}`).stdout, true)
    : parseListing((await $(q)`rpm -qplv ${file}`).stdout, false)
}

const archsOf = (format: string) => product.architectures.map((a) => (format === 'deb' ? a.deb : a.rpm))

test('dist/ holds one package per format and architecture, SHA256SUMS and a manifest', async (t) => {
  const m = manifest()
  t.is(m.packages.length, product.packages.length * product.architectures.length)
  for (const format of product.packages) {
    t.deepEqual(m.packages.filter((p) => p.format === format.id).map((p) => p.arch).sort(), archsOf(format.kind).sort())
  }
  const sums = readFileSync(path.join(distDir, 'SHA256SUMS'), 'utf8').trim().split('\n').map((l) => l.split(/\s+/))
  t.is(sums.length, m.packages.length)
  for (const [sum, file] of sums) t.is(await sha256File(path.join(distDir, file)), sum, file)
  for (const p of m.packages) t.true(p.size > 1_000_000 && /^[0-9a-f]{64}$/.test(p.sha256), p.file)
  t.deepEqual(Object.keys(m.proxy_builds).sort(), product.architectures.map((a) => a.name).sort())
})

for (const format of product.packages) {
  for (const arch of archsOf(format.kind)) {
    test(`${format.id} ${arch}: paths, owners and modes; the example cfg is not a live cfg`, async (t) => {
      const entries = await listing(format.id, arch)
      const byPath = new Map(entries.map((e) => [e.path, e]))
      const libMode = format.kind === 'rpm' ? '-rwxr-xr-x' : '-rw-r--r--'
      const expected: Record<string, string> = {
        [`${E}/sbin/haproxy`]: '-rwxr-xr-x',
        [`${E}/bin/openssl`]: '-rwxr-xr-x',
        [`${E}/lib/libssl.so.3`]: libMode,
        [`${E}/lib/libcrypto.so.3`]: libMode,
        [`${E}/lib/ossl-modules/fips.so`]: libMode,
        [`${E}/ssl/openssl.cnf`]: '-rw-r--r--',
        [fipsinstallPath(product)]: '-rwxr-xr-x',
        [runHaproxyPath(product)]: '-rwxr-xr-x',
        [selfCheckPath(product)]: '-rwxr-xr-x',
        [exampleConfig(product)]: '-rw-r--r--',
        [`${format.unitDir}/${product.name}.service`]: '-rw-r--r--',
        [`/usr/share/doc/${product.name}/copyright`]: '-rw-r--r--',
      }
      if (format.kind === 'deb') expected[`/etc/init/${product.name}.conf`] = '-rw-r--r--'
      for (const [p, mode] of Object.entries(expected)) {
        t.is(byPath.get(p)?.mode, mode, p)
      }
      t.deepEqual(entries.filter((e) => e.owner !== 'root/root').map((e) => e.path), [], 'everything is owned by root')
      t.false(byPath.has(liveConfig(product)), 'the live configuration is never shipped')
      t.false(byPath.has(`${E}/ssl/fipsmodule.cnf`), 'fipsmodule.cnf is generated on the host')
      t.deepEqual(entries.filter((e) => /\.build-id|\.debug$/.test(e.path)).map((e) => e.path), [], 'no build-id links')
      const rcLink = byPath.get(`/usr/sbin/rc${product.name}`)
      if (format.families.includes('suse')) t.is(rcLink?.link, '/sbin/service')
      else t.is(rcLink, undefined)
    })
  }
}

test('deb: control.tar.gz and data.tar.xz, conffiles, dependencies', async (t) => {
  for (const arch of archsOf('deb')) {
    const file = distPackage('deb', arch)
    t.deepEqual((await $(q)`ar t ${file}`).stdout.trim().split('\n'), ['debian-binary', 'control.tar.gz', 'data.tar.xz'])
    t.is((await $(q)`dpkg-deb -f ${file} Package`).stdout.trim(), product.name)
    const dir = mkdtempSync(path.join(os.tmpdir(), 'deb-control-'))
    await $(q)`dpkg-deb -e ${file} ${dir}`
    t.deepEqual(readFileSync(path.join(dir, 'conffiles'), 'utf8').trim().split('\n').sort(), [exampleConfig(product), `/etc/init/${product.name}.conf`].sort())
    t.regex((await $(q)`dpkg-deb -f ${file} Depends`).stdout, new RegExp(`libc6 \\(>= ${product.glibcFloor}\\)`))
    t.is((await $(q)`dpkg-deb -f ${file} Architecture`).stdout.trim(), arch)
  }
})

test('rpm: gzip payload, SHA-256 digests, no zstd, no weak or generated dependencies', async (t) => {
  for (const format of product.packages.filter((p) => p.kind === 'rpm')) {
    for (const arch of archsOf('rpm')) {
      const file = distPackage(format.id, arch)
      const info = (await $(q)`rpm -qp --qf ${'%{PAYLOADCOMPRESSOR} %{FILEDIGESTALGO} %{ARCH}\n'} ${file}`).stdout.trim()
      t.is(info, `gzip 8 ${arch}`, file)
      const requires = (await $(q)`rpm -qp --requires ${file}`).stdout
      t.notRegex(requires, /Zstd|libssl|libcrypto|\.so/, 'no rpmlib(PayloadIsZstd), no auto-generated library requires')
      t.regex(requires, new RegExp(`^${format.preDepends[0]}$`, 'm'))
      t.regex(requires, new RegExp(`glibc >= ${product.glibcFloor}`))
      for (const weak of ['recommends', 'suggests', 'supplements', 'enhances']) t.is((await $(q)`rpm -qp --${weak} ${file}`).stdout.trim(), '', weak)
      const scripts = (await $(q)`rpm -qp --scripts ${file}`).stdout
      for (const s of ['preinstall', 'postinstall', 'preuninstall', 'postuninstall']) t.regex(scripts, new RegExp(`${s} scriptlet`), s)
    }
  }
})

test('lintian: zero errors on every .deb', async (t) => {
  for (const arch of archsOf('deb')) {
    const r = await $({ nothrow: true, quiet: true })`lintian --fail-on error ${distPackage('deb', arch)}`
    t.deepEqual(r.stdout.split('\n').filter((l) => /^E:/.test(l)), [])
    t.is(r.exitCode, 0, r.stdout + r.stderr)
  }
})

test('rpmlint: zero errors on every .rpm (filters in packaging/rpmlint.toml, each with its reason)', async (t) => {
  for (const p of manifest().packages.filter((p) => p.file.endsWith('.rpm'))) {
    const r = await $({ nothrow: true, quiet: true })`rpmlint -c ${path.join(repoRoot, 'packaging', 'rpmlint.toml')} ${path.join(distDir, p.file)}`
    t.regex(r.stdout, / 0 errors,/, `${p.file}:\n${r.stdout}`)
  }
})

test('shellcheck: every maintainer script, fipsinstall, run-haproxy, the self-check and the rendered functions are clean', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'scripts-'))
  const deb = distPackage('deb', archsOf('deb')[0])
  await $(q)`dpkg-deb -e ${deb} ${path.join(dir, 'deb')}`
  const files = ['postinst', 'prerm', 'postrm'].map((s) => path.join(dir, 'deb', s))
  await $(q)`dpkg-deb -x ${deb} ${path.join(dir, 'root')}`
  files.push(path.join(dir, 'root', fipsinstallPath(product)), path.join(dir, 'root', runHaproxyPath(product)))
  // rpm scriptlets run with /bin/sh: split them out of `rpm --scripts` and check each as sh.
  for (const format of product.packages.filter((p) => p.kind === 'rpm')) {
    const out = (await $(q)`rpm -qp --scripts ${distPackage(format.id, archsOf('rpm')[0])}`).stdout
    for (const [, name, body] of out.matchAll(/^(\w+) scriptlet \(using \/bin\/sh\):\n([\s\S]*?)(?=^\w+ scriptlet|$(?![\s\S]))/gm)) {
      const f = path.join(dir, `${format.id}-${name}`)
      writeFileSync(f, `#!/bin/sh\n${body}`)
      files.push(f)
    }
  }
  t.true(files.length >= 13, `${files.length} scripts`)
  const r = await $({ nothrow: true, quiet: true })`shellcheck -s sh ${files}`
  t.is(r.exitCode, 0, r.stdout)
  // The self-check is bash (4.2, RHEL 7's).
  const check = await $({ nothrow: true, quiet: true })`shellcheck -s bash ${path.join(dir, 'root', selfCheckPath(product))}`
  t.is(check.exitCode, 0, check.stdout)
})

test('systemd-analyze verify: the unit is valid, with no warning', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'unit-root-'))
  await $(q)`dpkg-deb -x ${distPackage('deb', archsOf('deb')[0])} ${root}`
  // The root needs the system's own units (targets) and the commands the unit runs.
  mkdirSync(path.join(root, 'usr/lib/systemd'), { recursive: true })
  cpSync('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true })
  mkdirSync(path.join(root, 'bin'), { recursive: true })
  copyFileSync('/bin/kill', path.join(root, 'bin/kill'))
  const unit = path.join(root, 'lib/systemd/system', `${product.name}.service`)
  const r = await $({ nothrow: true, quiet: true })`systemd-analyze verify --root=${root} ${unit}`
  t.is(r.exitCode, 0, r.stderr)
  t.is(r.stderr.trim(), '', 'no warning (unknown or deprecated keys)')
})

// Hardening the unit can carry without losing systemd 219 (RHEL 7): see the unit's comments.
test('systemd-analyze security: the unit\'s exposure is at most 4.0', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'unit-security-'))
  await $(q)`dpkg-deb -x ${distPackage('deb', archsOf('deb')[0])} ${root}`
  const unit = path.join(root, 'lib/systemd/system', `${product.name}.service`)
  const r = await $({ nothrow: true, quiet: true })`systemd-analyze security --offline=true --no-pager ${unit}`
  const score = r.stdout.match(/Overall exposure level for \S+: (\d+\.\d+)/)
  t.truthy(score, r.stdout + r.stderr)
  t.log(`exposure ${score?.[1]}`)
  t.true(Number(score?.[1]) <= 4.0, `exposure ${score?.[1]}`)
})

test('the example config of every package passes haproxy -c and binds only loopback', async (t) => {
  const tree = new ProxyTree(product, 'x86_64')
  const { dir, env, fipsmodule } = tree.fipsConfig()
  t.is((await tree.fipsinstall(fipsmodule)).exitCode, 0)
  for (const format of product.packages) {
    const root = path.join(dir, format.id)
    const file = distPackage(format.id, format.kind === 'deb' ? 'amd64' : 'x86_64')
    if (format.kind === 'deb') await $(q)`dpkg-deb -x ${file} ${root}`
    else {
      mkdirSync(root)
      await $({ quiet: true, cwd: root })`sh -c ${`rpm2cpio ${file} | cpio -idm --quiet`}`
    }
    const cfg = readFileSync(path.join(root, exampleConfig(product)), 'utf8')
    t.true(cfg.includes(`ca-file ${format.caBundle}`), `${format.id} verifies against ${format.caBundle}`)
    const binds = [...cfg.matchAll(/^\s*bind (\S+)/gm)].map((m) => m[1])
    // Each listener on its port's variable (run-haproxy sets them), preset to the default range.
    t.deepEqual(binds, product.ports.services.map((s) => `"\${DD_FIPS_LOCAL_ADDRESS}:\${${portVariable(s)}}"`))
    t.deepEqual([...cfg.matchAll(/^\s*presetenv (DD_FIPS_PORT_\w+) (\d+)$/gm)].map((m) => [m[1], Number(m[2])]), product.ports.services.map((s) => [portVariable(s), s.port]))
    t.regex(cfg, /presetenv DD_FIPS_LOCAL_ADDRESS 127\.0\.0\.1/)
    for (const s of product.ports.services.filter((s) => s.kind === 'relay')) t.regex(cfg, new RegExp(`${s.upstream}:443 sni str\\(${s.upstream}\\) verifyhost ${s.upstream}`))
    // This host is Debian: check the other families' files against its CA bundle.
    const local = path.join(root, 'check.cfg')
    writeFileSync(local, cfg.replace(`ca-file ${format.caBundle}`, 'ca-file /etc/ssl/certs/ca-certificates.crt'))
    const check = await tree.run('sbin/haproxy', ['-c', '-f', local], env)
    t.is(check.exitCode, 0, `${format.id}: ${check.stdout}${check.stderr}`)
  }
})

test('run-haproxy refuses a port range start it cannot use, before HAProxy starts', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'run-haproxy-'))
  await $(q)`dpkg-deb -x ${distPackage('deb', archsOf('deb')[0])} ${root}`
  const launcher = path.join(root, runHaproxyPath(product))
  const maxStart = 65536 - product.ports.rangeSize
  for (const value of ['abc', '09803', '1023', String(maxStart + 1), '123456', '-1']) {
    const r = await $({ nothrow: true, quiet: true, env: { ...process.env, DD_FIPS_PORT_RANGE_START: value } })`sh ${launcher} -v`
    t.is(r.exitCode, 2, value)
    t.is(r.stderr, `${product.name}: DD_FIPS_PORT_RANGE_START='${value}' is not a port from 1024 to ${maxStart} (the range has ${product.ports.rangeSize} ports)\n`, value)
  }
  // A valid start gets as far as HAProxy, which this host has not at its install path.
  const ok = await $({ nothrow: true, quiet: true, env: { ...process.env, DD_FIPS_PORT_RANGE_START: String(maxStart) } })`sh ${launcher} -v`
  t.not(ok.exitCode, 2, ok.stderr)
  t.regex(ok.stderr, new RegExp(`${product.paths.embedded}/sbin/haproxy: not found`))
})
