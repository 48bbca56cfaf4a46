// The container image of make image. On a real engine (the run's MATRIX_ENGINE, and podman too
// when that is docker: podman needs no daemon), the amd64 image runs as the platforms run it
// (read-only root, a tmpfs, no capability, --network none) beside the FIXTURE intake in its network
// namespace (test/helpers/image-host.ts). Without an engine: the index, both architectures' files,
// the digests' stability and the platform files (which packaging/README.md shows: test/docs.test.ts).
import test from 'ava'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { parse } from 'yaml'
import { $ } from 'zx'
import { type EngineName, engineNamed, requestedEngine } from './harness/containers.ts'
import { elfMachine } from '../scripts/lib/elf.ts'
import { buildImage, healthcheckPath, imageLayoutDir, imageName, imageSbomFile } from '../scripts/lib/image.ts'
import { validateSbom } from '../scripts/lib/sbom.ts'
import { downloadDebianBinaries } from '../scripts/lib/sources.ts'
import { ECS_LAUNCH_TYPES, ecsTaskDefinition, helmValues, operatorSpec } from '../scripts/lib/image-platforms.ts'
import { cacheDir, distDir } from '../scripts/lib/paths.ts'
import { configDirCaBundle, liveConfig, loadProduct } from '../scripts/lib/product.ts'
import { proxyOutDir } from '../scripts/lib/proxy-build.ts'
import { FixturePki, type ServerCert } from './fixtures/pki.ts'
import { ImageContainer, PEER_DNS, Peer, loadImage, loadedNames, removeImage } from './helpers/image-host.ts'
// The pod shapes run in this process, serially with the tests here: they load the same archive
// under the same names, which a test file running beside this one would remove under them (podman
// rmi -f also removes the containers of an image it deletes).
import './image-pod-shapes.ts'
import { VENDOR_DIALECT_CONFIG, vendorDialectHosts, fixtureIntakeHosts } from './helpers/vendor-dialect.ts'

const product = loadProduct()
const relays = product.ports.services.filter((s) => s.kind === 'relay')
const amd64 = product.architectures.find((a) => a.oci === 'amd64')!
const layout = imageLayoutDir(distDir)
const blob = (digest: string) => readFileSync(path.join(layout, 'blobs', 'sha256', digest.replace('sha256:', '')))
const blobJson = (digest: string) => JSON.parse(blob(digest).toString())
const topIndex = () => JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8'))
const imageIndex = () => blobJson(topIndex().manifests[0].digest)

const work = mkdtempSync(path.join(os.tmpdir(), 'image-test-'))
let cert: ServerCert
let ca: string
const resolvConf = path.join(work, 'resolv.conf')

test.before(async () => {
  const pki = await FixturePki.create(path.join(work, 'pki'))
  cert = await pki.leaf('intake', { hosts: fixtureIntakeHosts(product) })
  ca = pki.ca
  writeFileSync(resolvConf, `nameserver ${PEER_DNS}\n`)
})

// The FIXTURE CA stands in for the image's CA bundle, the FIXTURE DNS for the resolver.
const fixtureVolumes = (): [string, string][] => [[resolvConf, '/etc/resolv.conf'], [ca, product.image.caBundle]]

const reservedOffsets = product.ports.services.filter((s) => s.kind === 'reserved').map((s) => s.offset).join(' ')

// The ports HAProxy listens on in the container, as its health command reads them.
const health = (c: ImageContainer, env: Record<string, string> = {}) => c.exec([healthcheckPath(product)], env)

const engines: EngineName[] = requestedEngine() === 'docker' ? ['docker', 'podman'] : ['podman']

// Every test loads the archive (a load of what is there already changes nothing); the names go at the end.
test.after.always(async () => {
  for (const name of engines) {
    const e = await engineNamed(name)
    for (const n of loadedNames(e, product)) await removeImage(e, n)
  }
})

for (const name of engines) {
  test.serial(`${name}: load names the host's image ${imageName(product)}`, async (t) => {
    const e = await engineNamed(name)
    const { printed, image } = await loadImage(e, product)
    // docker load: every architecture's tags, and the first architecture's under the plain name.
    const names = loadedNames(e, product)
    try {
      for (const n of names) t.true(printed.includes(`Loaded image: ${n}`) || printed.includes(`Loaded image(s): ${n}`), `${n} in: ${printed}`)
      // The image by that name is this host's architecture's, as the index has it.
      const id = (await $({ quiet: true, env: e.env })`${e.bin} image inspect --format {{.Id}} ${image}`).stdout.trim().replace('sha256:', '')
      const hostManifest = imageIndex().manifests.find((m: any) => m.platform.architecture === amd64.oci)
      t.is(id, blobJson(hostManifest.digest).config.digest.replace('sha256:', ''))
    } finally {
      for (const n of names) await removeImage(e, n)
    }
  })

  test.serial(`${name}: read-only, non-root, no capability, --network none: every relay port relays to its upstream; SIGTERM lets an in-flight upload finish and the proxy exits 0 by itself`, async (t) => {
    const e = await engineNamed(name)
    const { image } = await loadImage(e, product)
    const started = Date.now()
    const c = await ImageContainer.run(e, product, image, { name: `fips-image-relay-${process.pid}`, volumes: fixtureVolumes() })
    let peer: Peer | undefined
    try {
      // Ready: the health command passes (fipsinstall done, the config checked, every port bound).
      while ((await health(c)).exitCode !== 0 && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 50))
      t.log(`${name}: engine run to healthy ${Date.now() - started} ms`)
      peer = await Peer.start(await c.pid(), cert, fixtureIntakeHosts(product))
      t.true((await peer.call({ op: 'waitResolution', port: product.ports.rangeStart })).ok, await c.logs())
      const healthy = await health(c)
      t.is(healthy.exitCode, 0, healthy.stderr)
      t.is(healthy.stdout, `${product.name}: listening on ${product.ports.rangeStart}-${product.ports.rangeEnd} (reserved offsets ${reservedOffsets} not required)\n`)

      // Who runs: every process of the container as the image's numeric user, with no capability.
      for (const pid of await c.processes()) {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8')
        t.regex(status, new RegExp(`^Uid:\\t${product.image.uid}\\t${product.image.uid}\\t`, 'm'), `pid ${pid} runs as ${product.image.uid}`)
        t.regex(status, /^CapEff:\t0000000000000000$/m, `pid ${pid} has no capability`)
      }
      // No ls in the image: the shell's glob.
      t.is((await c.exec(['/bin/sh', '-c', `echo ${product.image.writableDir}/*`])).stdout, `${product.image.writableDir}/fipsmodule.cnf\n`, 'fipsmodule.cnf generated at start, in the tmpfs')

      for (const service of relays) {
        const reply = await peer.call({ op: 'send', port: service.port, path: `/image/${service.name}`, bytes: 4096 })
        t.is(reply.status, 202, `${service.name}: ${JSON.stringify(reply)}`)
      }
      const records = await peer.call({ op: 'records' }) as unknown as { path: string; sni: string; host: string; bytes: number }[]
      for (const service of relays) {
        t.like(records.find((r) => r.path === `/image/${service.name}`), { sni: service.upstream, host: service.upstream, bytes: 4096 }, service.name)
      }

      // SIGTERM during a slow upload (8 pieces of 64 KiB, 100 ms apart): the upload finishes, then
      // HAProxy exits by itself, well before the engine's 10 s kill (exit 0, not 137).
      const upload = peer.call({ op: 'send', port: relays[0].port, path: '/image/in-flight', bytes: 512 * 1024, chunked: true, pauseMs: 100 })
      await new Promise((r) => setTimeout(r, 300))
      const stop = await c.stop(10)
      t.is((await upload).status, 202, 'the in-flight upload finished')
      t.is(stop.exitCode, 0, `exited by itself: ${await c.logs()}`)
      t.log(`${name}: SIGTERM to exit ${stop.ms} ms, with an upload in flight for another ~0.5 s`)
      t.true(stop.ms < 2000, `stopped within 2 s (${stop.ms} ms)`)
    } finally {
      await peer?.close()
      await c.remove()
    }
  })

  test.serial(`${name}: DD_FIPS_PORT_RANGE_START=10803 moves every listener, and each relays`, async (t) => {
    const e = await engineNamed(name)
    const { image } = await loadImage(e, product)
    const start = 10803
    const c = await ImageContainer.run(e, product, image, { name: `fips-image-range-${process.pid}`, env: { DD_FIPS_PORT_RANGE_START: String(start) }, volumes: fixtureVolumes() })
    let peer: Peer | undefined
    try {
      peer = await Peer.start(await c.pid(), cert, fixtureIntakeHosts(product))
      t.true((await peer.call({ op: 'waitResolution', port: start })).ok, await c.logs())
      t.is((await health(c)).stdout, `${product.name}: listening on ${start}-${start + product.ports.rangeSize - 1} (reserved offsets ${reservedOffsets} not required)\n`)
      const atDefault = await health(c, { DD_FIPS_PORT_RANGE_START: String(product.ports.rangeStart) })
      t.is(atDefault.exitCode, 1, 'nothing on the default range')
      for (const service of relays) {
        const reply = await peer.call({ op: 'send', port: start + service.offset, path: `/moved/${service.name}`, bytes: 512 })
        t.is(reply.status, 202, service.name)
      }
    } finally {
      await peer?.close()
      await c.remove()
    }
  })

  test.serial(`${name}: a mounted config is used; a broken one, or no writable ${product.image.writableDir}, stops the container with the reason`, async (t) => {
    const e = await engineNamed(name)
    const { image } = await loadImage(e, product)
    // A custom config: the stats port answers with a marker instead of the stats page.
    const custom = path.join(work, 'custom.cfg')
    writeFileSync(custom, ['global', '    log stdout format short daemon notice', 'defaults', '    mode http', '    timeout client 5s', '    timeout server 5s', '    timeout connect 5s',
      'frontend marker', `    bind 127.0.0.1:${product.ports.rangeStart}`, '    http-request return status 200 content-type text/plain string custom-config-in-use', ''].join('\n'))
    const c = await ImageContainer.run(e, product, image, { name: `fips-image-custom-${process.pid}`, volumes: [...fixtureVolumes(), [custom, liveConfig(product)]] })
    let peer: Peer | undefined
    try {
      peer = await Peer.start(await c.pid(), cert, fixtureIntakeHosts(product))
      const reply = await peer.call({ op: 'send', port: product.ports.rangeStart, method: 'GET', path: '/' })
      t.is(reply.body, 'custom-config-in-use', 'the mounted config, not the built-in one')
    } finally {
      await peer?.close()
      await c.remove()
    }

    const broken = path.join(work, 'broken.cfg')
    writeFileSync(broken, 'global\n    no-such-keyword 1\n')
    const b = await ImageContainer.run(e, product, image, { name: `fips-image-broken-${process.pid}`, volumes: [...fixtureVolumes(), [broken, liveConfig(product)]] })
    try {
      t.not(await b.exitCode(), 0)
      const logs = await b.logs()
      t.regex(logs, /\[ALERT\].*no-such-keyword/, "HAProxy's own message")
      t.regex(logs, new RegExp(`${liveConfig(product)} is refused by haproxy -c`))
    } finally {
      await b.remove()
    }

    // A directory there (a ConfigMap mounted without subPath) is refused, never replaced by the example.
    const dir = mkdtempSync(path.join(work, 'configmap-'))
    writeFileSync(path.join(dir, `${product.name}.cfg`), readFileSync(custom))
    const d = await ImageContainer.run(e, product, image, { name: `fips-image-dir-${process.pid}`, volumes: [...fixtureVolumes(), [dir, liveConfig(product)]] })
    try {
      t.is(await d.exitCode(), 1)
      t.regex(await d.logs(), new RegExp(`${liveConfig(product)} exists but is not a regular file`))
    } finally {
      await d.remove()
    }

    const noTmpfs = await ImageContainer.run(e, product, image, { name: `fips-image-no-tmpfs-${process.pid}`, tmpfs: false, volumes: fixtureVolumes() })
    try {
      t.is(await noTmpfs.exitCode(), 1)
      t.regex(await noTmpfs.logs(), new RegExp(`cannot write ${product.image.writableDir}/fipsmodule\\.cnf: .*--tmpfs ${product.image.writableDir}`))
    } finally {
      await noTmpfs.remove()
    }
  })

  test.serial(`${name}: a config in the vendor's dialect (ca-file ca-certificates.crt next to it) passes haproxy -c and relays`, async (t) => {
    const e = await engineNamed(name)
    const { image } = await loadImage(e, product)
    const c = await ImageContainer.run(e, product, image, { name: `fips-image-vendor-${process.pid}`, volumes: [...fixtureVolumes(), [VENDOR_DIALECT_CONFIG, liveConfig(product)]] })
    let peer: Peer | undefined
    try {
      t.is((await c.exec([`${product.paths.prefix}/bin/run-haproxy`, '-c', '-f', liveConfig(product)])).exitCode, 0, await c.logs())
      t.is((await c.exec(['/bin/sh', '-c', `test -f ${configDirCaBundle(product)}`])).exitCode, 0, `${configDirCaBundle(product)} is the image's bundle`)
      peer = await Peer.start(await c.pid(), cert, fixtureIntakeHosts(product))
      t.true((await peer.call({ op: 'waitResolution', port: product.ports.rangeStart })).ok, await c.logs())
      for (const [port] of vendorDialectHosts()) {
        const reply = await peer.call({ op: 'send', port, path: `/vendor/${port}`, bytes: 1024 })
        t.is(reply.status, 202, `${port}: ${JSON.stringify(reply)}`)
      }
      const records = await peer.call({ op: 'records' }) as unknown as { path: string; sni: string }[]
      for (const [port, host] of vendorDialectHosts()) t.like(records.find((r) => r.path === `/vendor/${port}`), { sni: host }, String(port))
    } finally {
      await peer?.close()
      await c.remove()
    }
  })

  // podman's --network none gives a container no /etc/resolv.conf (the case).
  if (name === 'podman') test.serial(`${name}: without /etc/resolv.conf the proxy starts, says once that names cannot be resolved, and serves`, async (t) => {
    const e = await engineNamed(name)
    const { image } = await loadImage(e, product)
    const c = await ImageContainer.run(e, product, image, { name: `fips-image-no-resolv-${process.pid}`, volumes: [[ca, product.image.caBundle]] })
    try {
      t.is((await c.exec(['/bin/sh', '-c', 'test -e /etc/resolv.conf'])).exitCode, 1, `${name} gives the container no resolv.conf`)
      for (const deadline = Date.now() + 20_000; (await health(c)).exitCode !== 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 100))
      t.is((await health(c)).exitCode, 0, await c.logs())
      const said = (await c.logs()).split('\n').filter((l) => l.includes('/etc/resolv.conf'))
      t.deepEqual(said, [`${product.name}: /etc/resolv.conf does not exist: upstream names cannot be resolved until it does (then restart the container)`])
    } finally {
      await c.remove()
    }
  })
}

test('the index: linux/amd64 and linux/arm64, each layer of its architecture, labelled with the versions and the provider', async (t) => {
  const index = imageIndex()
  t.deepEqual(index.manifests.map((m: any) => `${m.platform.os}/${m.platform.architecture}`), product.architectures.map((a) => `linux/${a.oci}`))
  for (const entry of index.manifests) {
    const manifest = blobJson(entry.digest)
    const config = blobJson(manifest.config.digest)
    t.is(config.architecture, entry.platform.architecture)
    t.is(config.os, 'linux')
    t.is(config.config.User, `${product.image.uid}:${product.image.gid}`, 'a numeric non-root user')
    const labels = config.config.Labels
    t.is(labels['org.opencontainers.image.version'], product.version)
    t.regex(labels['org.opencontainers.image.revision'], /^[0-9a-f]{40}(-dirty)?$/)
    const report = JSON.parse(readFileSync(path.join(proxyOutDir(product.architectures.find((a) => a.oci === entry.platform.architecture)!.name), 'build-report.json'), 'utf8'))
    t.is(labels[`com.datadoghq.${product.name}.fips-provider-version`], report.fips_provider.version)
    t.is(labels[`com.datadoghq.${product.name}.fips-provider-validated`], String(report.fips_provider.validated))
    t.deepEqual(Object.keys(config.config.ExposedPorts), product.ports.services.map((s) => `${s.port}/tcp`))
    // The layer's ELF files are of the platform's architecture.
    const dir = mkdtempSync(path.join(work, `layer-${entry.platform.architecture}-`))
    writeFileSync(path.join(dir, 'layer.tar'), gunzipSync(blob(manifest.layers[0].digest)))
    await $({ quiet: true, cwd: dir })`tar -xf layer.tar`
    const expected = entry.platform.architecture === 'arm64' ? 'AArch64' : 'Advanced Micro Devices X86-64'
    for (const file of [`${product.paths.embedded}/sbin/haproxy`, `${product.paths.embedded}/lib/ossl-modules/fips.so`, '/bin/dash']) {
      t.is(await elfMachine(path.join(dir, file)), expected, `${entry.platform.architecture}: ${file}`)
    }
    // Only what runs: no package manager, no shell but dash.
    for (const absent of ['usr/bin/apt', 'usr/bin/dpkg', 'bin/bash', 'usr/bin/perl']) t.false((await $({ nothrow: true, quiet: true, cwd: dir })`test -e ${absent}`).exitCode === 0, absent)
    t.log(`${entry.platform.architecture}: ${(manifest.layers[0].size / 1048576).toFixed(2)} MiB compressed`)
    t.true(manifest.layers[0].size < 20 * 1048576, 'under 20 MiB compressed')
  }
})

test("the image's SBOM: valid CycloneDX 1.5; per architecture the manifest digest, each base package with its version and the sha256 of its .deb, and the proxy's components", async (t) => {
  const text = readFileSync(imageSbomFile(product, distDir), 'utf8')
  t.is(await validateSbom(text), null)
  const bom = JSON.parse(text)
  t.is(bom.metadata.component.type, 'container')
  const index = imageIndex()
  for (const arch of product.architectures) {
    const image = bom.components.find((c: any) => c.name === `${imageName(product)}@linux/${arch.oci}`)
    t.truthy(image, arch.oci)
    t.is(`sha256:${image.hashes[0].content}`, index.manifests.find((m: any) => m.platform.architecture === arch.oci).digest)
    const report = JSON.parse(readFileSync(path.join(proxyOutDir(arch.name), 'build-report.json'), 'utf8'))
    t.like(image.components.find((c: any) => c.name === 'haproxy'), { version: report.components.haproxy.version })
    t.like(image.components.find((c: any) => c.name === 'openssl-fips-provider'), { version: report.fips_provider.version })
    // Each base package: the .deb apt downloaded (from the cache: checked against the signed index).
    const debs = await downloadDebianBinaries(product.image.base.packages, arch.deb, product.image.base.suite, cacheDir())
    for (const deb of debs) {
      const c = image.components.find((x: any) => x.name === deb.package)
      t.like(c, { version: deb.version, purl: `pkg:deb/debian/${deb.package}@${deb.version}?arch=${arch.deb}&distro=debian-${product.image.base.suite}` }, deb.package)
      t.is(c?.hashes[0].content, createHash('sha256').update(readFileSync(deb.file)).digest('hex'), `${arch.deb} ${deb.package}`)
    }
  }
})

test('two builds of one commit give the same image digest', async (t) => {
  const labels = imageIndex().annotations
  const again = await buildImage({
    product, outDir: mkdtempSync(path.join(work, 'again-')), workDir: mkdtempSync(path.join(work, 'again-work-')), cacheDir: cacheDir(),
    sourceDateEpoch: Date.parse(labels['org.opencontainers.image.created']) / 1000, revision: labels['org.opencontainers.image.revision'], proxyTree: proxyOutDir,
  })
  t.is(again.index.digest, topIndex().manifests[0].digest)
})

test('the Helm values, Operator spec and ECS task definitions (EC2, Fargate): every port, one loopback, a writable dir', (t) => {
  // port + portRange is the last port of the range the Agent uses (the sidecars' portRange counts the ports after the first).
  const fips = (parse(operatorSpec(product)) as any).spec.global.fips
  t.is(fips.port + fips.portRange, product.ports.rangeEnd)
  t.deepEqual((parse(helmValues(product)) as any).fips.portRange, fips.portRange)
  for (const launchType of ECS_LAUNCH_TYPES) {
    const task = JSON.parse(ecsTaskDefinition(product, launchType))
    t.is(task.networkMode, 'awsvpc', 'the Agent and the proxy share a loopback')
    const proxy = task.containerDefinitions[1]
    t.deepEqual(proxy.portMappings.map((m: any) => m.containerPort), product.ports.services.map((s) => s.port), 'all the ports')
    // Fargate has no tmpfs: the writable dir is then the image's, on a writable root.
    t.is(proxy.linuxParameters?.tmpfs?.[0]?.containerPath, launchType === 'EC2' ? product.image.writableDir : undefined)
    t.is(proxy.readonlyRootFilesystem, launchType === 'EC2' ? true : undefined)
  }
})
