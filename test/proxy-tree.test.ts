// Checks on the trees `make proxy` built, for every architecture of the product, and on those of the
// release path's two-source build (`make proxy-two-source`: the default tree's libssl, libcrypto,
// openssl and HAProxy, fips.so from another release), which must pass every check the default trees pass.
import test from 'ava'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { $ } from 'zx'
import { compareVersions, elfMachine, treeGlibcFloor } from '../scripts/lib/elf.ts'
import { loadProduct } from '../scripts/lib/product.ts'
import { buildDir } from '../scripts/lib/paths.ts'
import { loadSources } from '../scripts/lib/sources.ts'
import { ProxyTree } from './helpers/proxy-tree.ts'

const product = loadProduct()
const sources = loadSources()
const library = sources.sources.openssl
const TREES = [
  { name: (arch: string) => arch, base: path.join(buildDir, 'proxy'), twoSource: false },
  { name: (arch: string) => `${arch} two-source`, base: path.join(buildDir, 'proxy-two-source'), twoSource: true },
]
// The provider a tree was built with: the default one, or the one its two-source build names.
const providerOf = (tree: ProxyTree, twoSource: boolean) => sources.sources[twoSource ? tree.report().fips_provider.source : sources.fipsProvider.source]
const MACHINE: Record<string, RegExp> = { x86_64: /X86-64/, aarch64: /AArch64/ }
const FIPS_MODULE = 'lib/ossl-modules/fips.so'
const SHIPPED = ['sbin/haproxy', 'bin/openssl', 'lib/libssl.so.3', 'lib/libcrypto.so.3', FIPS_MODULE]
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

for (const { name: treeName, base, twoSource } of TREES) for (const { name: arch } of product.architectures) {
  const label = treeName(arch)
  const treeOf = () => new ProxyTree(product, arch, base)

  test(`${label}: every ELF file is for ${arch} and needs glibc <= ${product.glibcFloor}`, async (t) => {
    const tree = treeOf()
    const { floor, files } = await treeGlibcFloor(tree.root)
    const rel = (f: string) => path.relative(tree.root, tree.file(f))
    t.deepEqual(SHIPPED.map(rel).filter((f) => !(f in files)), [], 'all shipped binaries are ELF files')
    for (const [file, need] of Object.entries(files)) {
      t.true(need !== 'none' && compareVersions(need, product.glibcFloor) <= 0, `${file} needs GLIBC_${need}`)
      t.regex(await elfMachine(path.join(tree.root, file)), MACHINE[arch], file)
    }
    t.is(floor, tree.report().glibc.measured_floor)
  })

  test(`${label}: binaries load the embedded libraries through $ORIGIN, never the system's`, async (t) => {
    const tree = treeOf()
    for (const bin of ['sbin/haproxy', 'bin/openssl']) {
      const dyn = (await $({ quiet: true })`readelf --dynamic ${tree.file(bin)}`).stdout
      t.regex(dyn, /R(UN)?PATH.*\[\$ORIGIN\/\.\.\/lib\]/, bin)
    }
    // The network-facing binary is position-independent (full ASLR).
    t.regex((await $({ quiet: true })`readelf --file-header ${tree.file('sbin/haproxy')}`).stdout, /Type:\s+DYN \(Position-Independent Executable/)
    const dirs = await tree.run('bin/openssl', ['version', '-d', '-m'], { OPENSSL_CONF: '/dev/null' })
    t.regex(dirs.stdout, new RegExp(`OPENSSLDIR: "${product.paths.embedded}/ssl"`))
    t.regex(dirs.stdout, new RegExp(`MODULESDIR: "${product.paths.embedded}/lib/ossl-modules"`))
  })

  test(`${label}: haproxy -vv reports the OpenSSL it was built with, running on the embedded one`, async (t) => {
    const tree = treeOf()
    const { env, fipsmodule } = tree.fipsConfig()
    t.is((await tree.fipsinstall(fipsmodule)).exitCode, 0)
    const vv = await tree.run('sbin/haproxy', ['-vv'], env)
    t.is(vv.exitCode, 0, vv.stderr)
    const version = library.version
    t.regex(vv.stdout, new RegExp(`HAProxy version ${sources.sources.haproxy.version.replace(/\./g, '\\.')}`))
    t.regex(vv.stdout, new RegExp(`Built with OpenSSL version : OpenSSL ${version}`))
    t.regex(vv.stdout, new RegExp(`Running on OpenSSL version : OpenSSL ${version}`))
    t.regex(vv.stdout, /\+OPENSSL /)
    t.regex(vv.stdout, /\+SYSTEMD /, 'built for a Type=notify unit')
  })

  test(`${label}: after fipsinstall the fips provider is active and MD5 is refused`, async (t) => {
    const tree = treeOf()
    const { env, fipsmodule } = tree.fipsConfig()
    // Without fipsmodule.cnf the configuration is an error, not a silent non-FIPS fallback.
    t.not((await tree.run('bin/openssl', ['list', '-providers'], env)).exitCode, 0)
    const install = await tree.fipsinstall(fipsmodule)
    t.regex(install.stdout + install.stderr, /INSTALL PASSED/)
    const providers = await tree.run('bin/openssl', ['list', '-providers'], env)
    // The library's release runs the provider of the tree's source (3.0.17 under 3.0.20, two-source).
    t.regex((await tree.run('bin/openssl', ['version'], env)).stdout, new RegExp(`^OpenSSL ${library.version.replace(/\./g, '\\.')} `))
    t.regex(providers.stdout, new RegExp(`fips\\s+name: OpenSSL FIPS Provider\\s+version: ${providerOf(tree, twoSource).version}\\s+status: active`))
    t.regex(providers.stdout, /base\s+name: OpenSSL Base Provider[\s\S]*?status: active/)
    t.notRegex(providers.stdout, /default\s+name/)
    const md5 = await tree.run('bin/openssl', ['dgst', '-md5'], env, 'x')
    t.not(md5.exitCode, 0)
    t.regex(md5.stderr, /unsupported/)
    const sha = await tree.run('bin/openssl', ['dgst', '-sha256'], env, 'x')
    t.is(sha.exitCode, 0, sha.stderr)
  })

  test(`${label}: the build report records versions, hashes, compiler, glibc floor and the FIPS provider`, (t) => {
    const tree = treeOf()
    const report = tree.report()
    const provider = providerOf(tree, twoSource)
    t.is(report.arch, arch)
    if (twoSource) {
      t.not(report.fips_provider.source, 'openssl', 'fips.so comes from another source than the library')
      t.not(provider.version, library.version)
      const defaultTree = new ProxyTree(product, arch)
      t.not(report.cache_key, defaultTree.report().cache_key, 'the two builds have their own cache entries')
      // Only fips.so is compiled from the provider's source: the rest is the default tree's, byte for byte.
      t.is(report.library_cache_key, defaultTree.report().cache_key)
      for (const file of SHIPPED.filter((f) => f !== FIPS_MODULE)) t.is(sha256(tree.file(file)), sha256(defaultTree.file(file)), `${file} is the default tree's`)
      t.not(sha256(tree.file(FIPS_MODULE)), sha256(defaultTree.file(FIPS_MODULE)))
    } else {
      t.is(report.library_cache_key, undefined)
    }
    t.is(report.components.fips_provider.sha256, provider.sha256)
    t.is(report.components.openssl.license, library.license)
    t.is(report.toolchain.name, 'zig')
    t.is(report.components.haproxy.sha256, sources.sources.haproxy.sha256)
    t.is(report.components.openssl.version, sources.sources.openssl.version)
    t.is(report.fips_provider.version, provider.version)
    t.is(report.fips_provider.validated, sources.fipsProvider.validatedVersions.includes(provider.version))
    t.regex(report.fips_provider.statement, report.fips_provider.validated ? /is a validated provider/ : /is NOT a validated provider/)
    t.regex(report.compiler, new RegExp(`zig .* -target .*\\.${product.glibcFloor}`))
    t.is(report.glibc.required_floor, product.glibcFloor)
    t.false(existsSync(tree.file('ssl/fipsmodule.cnf')), 'fipsmodule.cnf is generated on the host, never shipped')
  })
  if (arch === 'x86_64') test(`${label}: HAProxy terminates TLS with a FIPS cipher and refuses a ChaCha20-only client`, async (t) => {
    const tree = treeOf()
    const { dir, env, fipsmodule } = tree.fipsConfig()
    t.is((await tree.fipsinstall(fipsmodule)).exitCode, 0)
    const pem = path.join(dir, 'server.pem')
    const key = await tree.run('bin/openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', pem, '-out', `${pem}.crt`], env)
    t.is(key.exitCode, 0, key.stderr)
    await $`cat ${pem}.crt >> ${pem}`
    const port = await freePort()
    const cfg = path.join(dir, 'haproxy.cfg')
    writeFileSync(cfg, [
      'global', '  log stderr format raw local0 info',
      'defaults', '  mode http', '  timeout client 5s', '  timeout server 5s', '  timeout connect 5s',
      'frontend tls', `  bind 127.0.0.1:${port} ssl crt ${pem} ssl-min-ver TLSv1.2`, '  http-request return status 200 content-type text/plain string fips-ok', '',
    ].join('\n'))
    const check = await tree.run('sbin/haproxy', ['-c', '-f', cfg], env)
    t.is(check.exitCode, 0, check.stdout + check.stderr)
    const proc = spawn(tree.file('sbin/haproxy'), ['-db', '-f', cfg], { env: { ...env, PATH: process.env.PATH }, stdio: 'ignore' })
    t.teardown(() => proc.kill('SIGKILL'))
    await waitForPort(port)

    // The client is the host's own OpenSSL (not in FIPS mode): it offers what the test says.
    const client = (args: string[]) => $({ nothrow: true, quiet: true, input: '' })`openssl s_client -connect 127.0.0.1:${port} -servername localhost ${args}`
    const gcm = await client(['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256'])
    t.regex(gcm.stdout, /Cipher is ECDHE-RSA-AES128-GCM-SHA256/)
    const tls13 = await client(['-tls1_3', '-ciphersuites', 'TLS_AES_256_GCM_SHA384'])
    t.regex(tls13.stdout, /Cipher is TLS_AES_256_GCM_SHA384/)
    for (const args of [['-tls1_3', '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256'], ['-tls1_2', '-cipher', 'ECDHE-RSA-CHACHA20-POLY1305']]) {
      const chacha = await client(args)
      t.not(chacha.exitCode, 0, `${args.join(' ')} must fail`)
      t.notRegex(chacha.stdout, /Cipher is (TLS_)?(ECDHE-RSA-)?CHACHA20/)
    }
    const body = await $({ quiet: true })`curl -sk --tlsv1.2 https://127.0.0.1:${port}/`
    t.is(body.stdout, 'fips-ok')
  })

  if (arch === 'aarch64') test(`${label}: the tree runs under qemu: haproxy -vv and openssl list -providers`, async (t) => {
    const tree = treeOf()
    const { env, fipsmodule } = tree.fipsConfig()
    t.is((await tree.fipsinstall(fipsmodule)).exitCode, 0)
    t.regex((await tree.run('sbin/haproxy', ['-vv'], env)).stdout, /Running on OpenSSL version : OpenSSL 3/)
    t.regex((await tree.run('bin/openssl', ['list', '-providers'], env)).stdout, /fips[\s\S]*status: active/)
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

async function waitForPort(port: number, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((r) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.on('connect', () => { socket.destroy(); r(true) }).on('error', () => r(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`)
}

