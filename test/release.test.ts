// The release path: the gate (RELEASE=1) refuses each shortcut with its own message and passes a
// release that has none; the scripts refuse before building anything; the SBOM validates against
// CycloneDX 1.5's published schema and says what each package ships; SHA256SUMS is signed.
import test from 'ava'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { SBOM_FILE } from '../scripts/lib/packages.ts'
import { distDir, repoRoot } from '../scripts/lib/paths.ts'
import { loadProduct } from '../scripts/lib/product.ts'
import { type GateInput, releaseProblems } from '../scripts/lib/release-gate.ts'
import { validateSbom } from '../scripts/lib/sbom.ts'
import { gnupgHome, signingKey, stopSigningAgent } from '../scripts/lib/signing.ts'
import { loadSources } from '../scripts/lib/sources.ts'
import { manifest } from './helpers/dist.ts'

const product = loadProduct()
const sources = loadSources()
const q = { quiet: true, nothrow: true }
// A source whose version is on the validated list (its tarball cannot be fetched here: the gate's
// logic is what is tested, not a 3.0.9 build).
const VALIDATED = Object.values(sources.sources).find((s) => sources.fipsProvider.validatedVersions.includes(s.version))!

// A committed checkout with nothing uncommitted.
async function cleanCheckout(): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'release-checkout-'))
  writeFileSync(path.join(dir, 'README'), 'x\n')
  await $({ quiet: true, cwd: dir })`git init -q && git add README && git -c user.name=t -c user.email=t@example.com commit -qm x`
  return dir
}

// A repository on loopback that carries the given paths (everything else is 404).
async function repository(published: string[]): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((req, res) => {
    res.statusCode = published.some((p) => req.url === p) ? 200 : 404
    res.end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }
}

async function release(t: { teardown(fn: () => void): void }, overrides: Partial<GateInput> = {}, published: string[] = []): Promise<string[]> {
  const repo = await repository(published)
  t.teardown(repo.close)
  return releaseProblems({
    product, sources, providerSource: VALIDATED.id, signingKeyFile: '/keys/release.asc', repoUrl: repo.url, checkout: await cleanCheckout(), ...overrides,
  })
}

test('a release with a validated provider, its own key, a real repository, a clean tree and a new version passes', async (t) => {
  t.deepEqual(await release(t), [])
})

test('each shortcut is refused with its own message', async (t) => {
  const only = async (overrides: Partial<GateInput>, message: RegExp, published: string[] = []) => {
    const problems = await release(t, overrides, published)
    t.is(problems.length, 1, problems.join('\n'))
    t.regex(problems[0] ?? '', message)
  }
  await only({ providerSource: 'openssl' }, new RegExp(`OpenSSL ${sources.sources.openssl.version.replace(/\./g, '\\.')} \\(source openssl\\), which is not a validated provider`))
  await only({ signingKeyFile: undefined }, /no release signing key: set DD_SIGNING_KEY_FILE/)
  await only({ repoUrl: product.repository.url }, /is a placeholder .*points nowhere/)
  const dirty = await cleanCheckout()
  writeFileSync(path.join(dirty, 'README'), 'changed\n')
  await only({ checkout: dirty }, /uncommitted changes \(README\)/)
  await only({ checkout: os.tmpdir() }, /is not a git checkout/)
  const rpm = `/rpm/${product.repository.channel}/7/x86_64/${product.name}-${product.version}-${product.release.iteration}.x86_64.rpm`
  await only({}, new RegExp(`version ${product.version.replace(/\./g, '\\.')} is already published`), [rpm])
  await only({ probe: async () => 'connect ECONNREFUSED' }, /cannot tell whether version .* is already published: .* answered nothing \(connect ECONNREFUSED\)/)
})

test('all problems are given at once', async (t) => {
  const problems = await release(t, { providerSource: 'openssl', signingKeyFile: undefined, repoUrl: 'https://packages.example.com' })
  t.is(problems.length, 3, problems.join('\n'))
  // Each of the three, named: not three of one kind.
  for (const named of [/not a validated provider/, /no release signing key/, /is a placeholder/]) {
    t.is(problems.filter((p) => named.test(p)).length, 1, `${named}: ${problems.join(' | ')}`)
  }
})

test('RELEASE=1 make proxy, make packages and make repos on a development checkout are refused before anything is built', async (t) => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'release-proxy-'))
  const sums = path.join(distDir, 'SHA256SUMS')
  const before = statSync(sums).mtimeMs
  for (const target of ['proxy', 'packages', 'repos']) {
    const r = await $({ ...q, cwd: repoRoot, env: { ...process.env, RELEASE: '1', DD_SIGNING_KEY_FILE: '', DD_REPO_URL: '', PROXY_OUT_DIR: out } })`node_modules/.bin/tsx ${`scripts/${target}.ts`}`
    t.is(r.exitCode, 1, target)
    t.regex(r.stderr, new RegExp(`RELEASE=1: make ${target} refused, nothing was built:`))
    t.regex(r.stderr, /not a validated provider/, target)
    t.regex(r.stderr, /no release signing key/, target)
    t.regex(r.stderr, /is a placeholder/, target)
    t.notRegex(r.stderr, /\[(proxy|deb|rpm-rhel|repos) /, `${target}: no build step started`)
  }
  t.false(existsSync(path.join(out, 'x86_64')), 'no proxy tree')
  t.is(statSync(sums).mtimeMs, before, 'dist/ untouched')
})

test('the SBOM is valid CycloneDX 1.5, and an invalid one is told apart', async (t) => {
  const text = readFileSync(path.join(distDir, SBOM_FILE), 'utf8')
  t.is(await validateSbom(text), null)
  const broken = JSON.parse(text)
  broken.components[0].type = 'not-a-type'
  t.not(await validateSbom(JSON.stringify(broken)), null)
})

test('the SBOM lists every package with its sha256, and what it ships with versions, licenses and source hashes', (t) => {
  const bom = JSON.parse(readFileSync(path.join(distDir, SBOM_FILE), 'utf8'))
  t.is(bom.bomFormat, 'CycloneDX')
  t.is(bom.specVersion, '1.5')
  t.is(bom.metadata.component.name, product.name)
  t.is(bom.metadata.component.version, product.version)
  const packages = manifest().packages
  t.deepEqual(bom.components.map((c: any) => c.name).sort(), packages.map((p) => p.file).sort())
  const builds = manifest().proxy_builds
  for (const p of packages) {
    const c = bom.components.find((x: any) => x.name === p.file)
    t.deepEqual(c.hashes, [{ alg: 'SHA-256', content: p.sha256 }], p.file)
    const inside = Object.fromEntries(c.components.map((x: any) => [x.name, x]))
    const arch = product.architectures.find((a) => a.deb === p.arch || a.rpm === p.arch)!.name
    const report = builds[arch]
    for (const [name, spec] of [['haproxy', sources.sources.haproxy], ['openssl', sources.sources.openssl], ['openssl-fips-provider', sources.sources[report.fips_provider.source]]] as const) {
      t.is(inside[name].version, spec.version, `${p.file}: ${name}`)
      t.deepEqual(inside[name].licenses, [{ expression: spec.license }], `${p.file}: ${name} license`)
      t.deepEqual(inside[name].externalReferences[0].hashes, [{ alg: 'SHA-256', content: spec.sha256 }], `${p.file}: ${name} source hash`)
    }
    const props = Object.fromEntries(inside['openssl-fips-provider'].properties.map((x: any) => [x.name, x.value]))
    t.is(props['fips:validated'], String(report.fips_provider.validated))
    t.is(props['fips:provider-version'], report.fips_provider.version)
    t.is(inside.zig.version, report.toolchain.version)
    t.is(inside.zig.scope, 'excluded', 'the toolchain built the files, it is not in the package')
  }
})

test('SHA256SUMS is signed (detached, armored) with the key of the run, and the signature verifies', async (t) => {
  const sums = path.join(distDir, 'SHA256SUMS')
  t.regex(readFileSync(`${sums}.asc`, 'utf8'), /^-----BEGIN PGP SIGNATURE-----/)
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gpg-verify-'))
  t.teardown(async () => {
    await stopSigningAgent(dir)
    rmSync(dir, { recursive: true, force: true })
  })
  const home = gnupgHome(dir)
  mkdirSync(home, { mode: 0o700 })
  await $({ quiet: true, input: (await signingKey()).publicKey })`gpg --homedir ${home} --batch --import`
  const ok = await $(q)`gpg --homedir ${home} --batch --verify ${`${sums}.asc`} ${sums}`
  t.is(ok.exitCode, 0, ok.stderr)
  const tampered = path.join(home, 'SHA256SUMS')
  writeFileSync(tampered, `${readFileSync(sums, 'utf8')}0000  extra\n`)
  t.not((await $(q)`gpg --homedir ${home} --batch --verify ${`${sums}.asc`} ${tampered}`).exitCode, 0)
})
