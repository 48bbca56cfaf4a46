// make image: the proxy as an OCI image for the vendor's container platforms (EKS with Helm, ECS),
// linux/amd64 and linux/arm64 under one image index, written as an OCI image layout without any
// container engine or daemon.
//
// Each architecture's root filesystem is assembled from the same proxy tree, product definition
// and example config as the packages, plus only the runtime files of a few Debian packages of that
// architecture (product.yaml `image.base`): the glibc libraries the ELF files need (followed from
// their NEEDED entries and interpreter), dash for the entrypoint, the CA bundle, and those
// packages' copyright files. One layer per architecture, made by GNU tar with sorted names, one
// mtime (SOURCE_DATE_EPOCH), numeric root ownership and no atime/ctime, gzip-compressed by zlib
// (whose header carries no time): two builds of one commit give the same digests.
import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { $ } from 'zx'
import { isElf } from './elf.ts'
import { Progress } from './exec.ts'
import { NO_RESOLV_CONF_VARIABLE, renderHaproxyConfig, renderRunHaproxy } from './haproxy-config.ts'
import { linkShellLibrary } from './shell-library.ts'
import { type Architecture, type Product, architecture, configDirCaBundle, docDir, exampleConfig, runHaproxyPath, templateValues } from './product.ts'
import type { BuildReport } from './proxy-build.ts'
import { imageSbomJson } from './sbom.ts'
import { type DebianBinary, downloadDebianBinaries, loadSources } from './sources.ts'
import { renderCopyright } from './staging.ts'
import { packagingTemplate } from './template.ts'

const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
}

export const entrypointPath = (p: Product) => `${p.paths.prefix}/bin/container-entrypoint`
export const healthcheckPath = (p: Product) => `${p.paths.prefix}/bin/healthcheck`
// The OCI layout directory and the archive of it (which docker load and podman load read).
export const imageLayoutDir = (outDir: string) => path.join(outDir, 'image')
export const imageArchive = (p: Product, outDir: string) => path.join(outDir, `${p.image.name}-${p.version}.oci.tar`)
// The image's CycloneDX SBOM (scripts/lib/sbom.ts), beside the archive.
export const imageSbomFile = (p: Product, outDir: string) => path.join(outDir, `${p.image.name}-${p.version}.image.cdx.json`)
// The names the archive's images get when loaded. podman load reads the OCI index and takes the
// host's architecture under imageName; docker load reads manifest.json (no platform choice there):
// every architecture under its archTag, and the first architecture of product.yaml (x86_64; arm64
// is beta) under imageName too.
export const imageName = (p: Product) => `${p.image.name}:${p.version}`
const archTag = (p: Product, arch: Architecture) => `${imageName(p)}-${arch.oci}`
export const dockerLoadTags = (p: Product, arch: Architecture) => arch.name === p.architectures[0].name ? [imageName(p), archTag(p, arch)] : [archTag(p, arch)]

interface Blob {
  mediaType: string
  digest: string
  size: number
}

export interface BuiltArchImage {
  arch: string
  platform: { os: 'linux'; architecture: string }
  manifest: Blob
  config: Blob
  layer: Blob & { diffId: string; uncompressedSize: number }
  base: { package: string; version: string; sha256: string; files: string[] }[]
  report: BuildReport
}

export interface BuiltImage {
  index: Blob
  images: BuiltArchImage[]
  archive: string
}

export interface ImageOptions {
  product: Product
  outDir: string
  workDir: string
  cacheDir: string
  sourceDateEpoch: number
  revision: string
  proxyTree(arch: string): string
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')
const json = (v: unknown) => Buffer.from(JSON.stringify(v))

// Writes a blob into the layout's blobs/sha256/ and describes it.
function writeBlob(layout: string, mediaType: string, content: Buffer): Blob {
  const digest = sha256(content)
  const dir = path.join(layout, 'blobs', 'sha256')
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, digest), content)
  return { mediaType, digest: `sha256:${digest}`, size: content.length }
}

// The image's annotations (OCI's keys, and the proxy's components under the product's name).
function annotations(p: Product, report: BuildReport, opts: ImageOptions): Record<string, string> {
  return {
    'org.opencontainers.image.title': p.image.name,
    'org.opencontainers.image.description': p.summary,
    'org.opencontainers.image.version': p.version,
    'org.opencontainers.image.revision': opts.revision,
    'org.opencontainers.image.created': new Date(opts.sourceDateEpoch * 1000).toISOString(),
    'org.opencontainers.image.vendor': p.vendor,
    'org.opencontainers.image.licenses': p.license,
    'org.opencontainers.image.url': p.homepage,
    [`com.datadoghq.${p.name}.haproxy-version`]: report.components.haproxy.version,
    [`com.datadoghq.${p.name}.openssl-version`]: report.components.openssl.version,
    [`com.datadoghq.${p.name}.fips-provider-version`]: report.fips_provider.version,
    [`com.datadoghq.${p.name}.fips-provider-validated`]: String(report.fips_provider.validated),
  }
}

// The shared libraries the ELF files under `root` need (NEEDED, recursively, and the program
// interpreter), as paths in the extracted base packages; those the tree has itself (its RUNPATH
// $ORIGIN/../lib) are not looked for.
async function neededFromBase(root: string, base: string, triplet: string, dlopened: string[]): Promise<string[]> {
  const own = new Set(readdirSync(root, { recursive: true, encoding: 'utf8' }).map((f) => path.basename(f)))
  const searchDirs = [`lib/${triplet}`, `usr/lib/${triplet}`]
  const inBase = (name: string, neededBy: string) => {
    const dir = searchDirs.find((d) => existsSync(path.join(base, d, name)))
    if (!dir) throw new Error(`${neededBy} needs ${name}, which no base package of the image has (product.yaml image.base.packages)`)
    return path.join(dir, name)
  }
  const found = new Set<string>()
  const queue = readdirSync(root, { recursive: true, encoding: 'utf8' }).map((f) => path.join(root, f)).filter(isElf)
  // What glibc loads at run time is wanted as if an ELF file needed it.
  for (const name of dlopened) {
    const rel = inBase(name, 'glibc (dlopen)')
    found.add(rel)
    queue.push(realpathIn(base, rel))
  }
  while (queue.length) {
    const file = queue.pop()!
    const dynamic = (await $({ quiet: true })`readelf -d -l -W ${file}`).stdout
    const interpreter = dynamic.match(/Requesting program interpreter: (\S+)\]/)?.[1]
    const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]).filter((n) => !own.has(n))
    const wanted = [...(interpreter ? [interpreter.slice(1)] : []), ...needed.map((n) => inBase(n, path.basename(file)))]
    for (const rel of wanted) {
      if (found.has(rel)) continue
      found.add(rel)
      if (isElf(realpathIn(base, rel))) queue.push(realpathIn(base, rel))
    }
  }
  return [...found].sort()
}

// The file `rel` of the tree `root` is, following symlinks in every component (an absolute one
// points inside the tree, as Debian's /lib64/ld-linux-x86-64.so.2 does).
function realpathIn(root: string, rel: string): string {
  let resolved = ''
  for (const part of rel.split('/').filter(Boolean)) {
    const candidate = path.join(resolved, part)
    const abs = path.join(root, candidate)
    if (existsSync(abs) && lstatSync(abs).isSymbolicLink()) {
      const target = readlinkSync(abs)
      resolved = path.relative(root, realpathIn(root, path.isAbsolute(target) ? target.slice(1) : path.join(resolved, target)))
    } else {
      resolved = candidate
    }
  }
  return path.join(root, resolved)
}

// Copies `rel` from `from` to `to`, a symlink as a symlink plus what it points to.
function copyPath(from: string, to: string, rel: string): string[] {
  const src = path.join(from, rel)
  const dest = path.join(to, rel)
  mkdirSync(path.dirname(dest), { recursive: true })
  if (lstatSync(src).isSymbolicLink()) {
    const target = readlinkSync(src)
    rmSync(dest, { force: true })
    symlinkSync(target, dest)
    // An absolute target points into the same tree (Debian's /lib64/ld-linux-x86-64.so.2 does).
    const resolved = path.isAbsolute(target) ? target.slice(1) : path.relative(from, path.resolve(path.dirname(src), target))
    return [rel, ...copyPath(from, to, resolved)]
  }
  copyFileSync(src, dest)
  chmodSync(dest, statSync(src).mode & 0o7777)
  return [rel]
}

// One architecture's root filesystem, in `root`.
async function assembleRoot(opts: ImageOptions, arch: Architecture, root: string, report: BuildReport, debs: DebianBinary[]): Promise<BuiltArchImage['base']> {
  const p = opts.product
  const write = (dest: string, content: string, mode = 0o644) => {
    const abs = path.join(root, dest)
    mkdirSync(path.dirname(abs), { recursive: true })
    writeFileSync(abs, content)
    chmodSync(abs, mode)
  }
  cpSync(path.join(opts.proxyTree(arch.name), 'opt'), path.join(root, 'opt'), { recursive: true, verbatimSymlinks: true })
  const values = { ...templateValues(p), WRITABLE_DIR: p.image.writableDir, NO_RESOLV_CONF: NO_RESOLV_CONF_VARIABLE }
  write(runHaproxyPath(p), renderRunHaproxy(p), 0o755)
  write(entrypointPath(p), linkShellLibrary(p, packagingTemplate('container-entrypoint.sh'), values, 'container-entrypoint.sh'), 0o755)
  const offsets = (reserved: boolean) => p.ports.services.filter((s) => (s.kind === 'reserved') === reserved).map((s) => s.offset).join(' ')
  write(healthcheckPath(p), linkShellLibrary(p, packagingTemplate('container-healthcheck.sh'), { ...values, USED_OFFSETS: offsets(false), RESERVED_OFFSETS: offsets(true) }, 'container-healthcheck.sh'), 0o755)
  write(exampleConfig(p), renderHaproxyConfig(p, { caBundle: p.image.caBundle, flavour: `container image, CA bundle ${p.image.caBundle}` }))
  write(`${docDir(p)}/copyright`, renderCopyright(p, report))
  // openssl.cnf includes fipsmodule.cnf from the tree; the entrypoint generates it in the writable dir.
  symlinkSync(path.join(p.image.writableDir, 'fipsmodule.cnf'), path.join(root, p.paths.embedded, 'ssl', 'fipsmodule.cnf'))

  // The base packages, extracted side by side; only what the files above need is taken.
  const base = path.join(path.dirname(root), 'base')
  rmSync(base, { recursive: true, force: true })
  const taken: (BuiltArchImage['base'][number] & { contents: Set<string> })[] = []
  for (const deb of debs) {
    await $({ quiet: true })`dpkg-deb -x ${deb.file} ${base}`
    const listing = (await $({ quiet: true })`dpkg-deb --fsys-tarfile ${deb.file}`.pipe($({ quiet: true })`tar -t`)).stdout
    const contents = new Set(listing.split('\n').map((l) => l.replace(/^\.\//, '').replace(/\/$/, '')))
    taken.push({ package: deb.package, version: deb.version, sha256: sha256(readFileSync(deb.file)), files: [], contents })
  }
  const take = (rel: string) => {
    for (const f of copyPath(base, root, rel)) {
      const owner = taken.find((t) => t.contents.has(f))
      if (!owner) throw new Error(`no base package of the image ships /${f}`)
      owner.files.push(`/${f}`)
    }
  }
  // dash first: the libraries it needs are followed like the proxy's.
  take('bin/dash')
  symlinkSync('dash', path.join(root, 'bin', 'sh'))
  for (const rel of await neededFromBase(root, base, `${arch.name}-linux-gnu`, p.image.base.dlopened)) take(rel)
  // Each package's copyright, where it really is (libgcc-s1's doc directory is gcc-12-base's).
  const copyrights = new Set(taken.map((t) => path.relative(base, realpathIn(base, `usr/share/doc/${t.package}/copyright`))))
  for (const rel of copyrights) take(rel)
  // The CA bundle, as update-ca-certificates makes it from the ca-certificates package's files.
  const certs = readdirSync(path.join(base, 'usr/share/ca-certificates'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.crt')).sort()
  write(p.image.caBundle, certs.map((f) => readFileSync(path.join(base, 'usr/share/ca-certificates', f), 'utf8')).join(''))
  taken.find((t) => t.package === 'ca-certificates')?.files.push(`${p.image.caBundle} (made of its ${certs.length} certificates)`)
  // Where the vendor's configs (default-path config, ca-file ca-certificates.crt) look for it: a
  // link, so that a bundle mounted over the image's one serves both.
  symlinkSync(p.image.caBundle, path.join(root, configDirCaBundle(p)))

  // Accounts: the numeric user the image runs as, with the Agent's user name.
  write('/etc/passwd', `root:x:0:0:root:/root:/sbin/nologin\n${p.user}:x:${p.image.uid}:${p.image.gid}:${p.displayName}:/nonexistent:/sbin/nologin\n`)
  write('/etc/group', `root:x:0:\n${p.group}:x:${p.image.gid}:\n`)
  mkdirSync(path.join(root, p.image.writableDir), { recursive: true })
  // Modes independent of the umask: directories 0755, the writable one sticky and world-writable
  // (as /tmp is) so that the image works without a tmpfs when the root filesystem is writable.
  for (const rel of ['', ...readdirSync(root, { recursive: true, encoding: 'utf8' })]) {
    const abs = path.join(root, rel)
    if (!lstatSync(abs).isSymbolicLink() && lstatSync(abs).isDirectory()) chmodSync(abs, 0o755)
  }
  chmodSync(path.join(root, p.image.writableDir), 0o1777)
  rmSync(base, { recursive: true, force: true })
  return taken.map(({ contents: _, ...t }) => ({ ...t, files: [...new Set(t.files)].sort() }))
}

// GNU tar with deterministic metadata: sorted names, one mtime, numeric root ownership, no
// atime/ctime (the layer, and the archive of the layout).
const reproducibleTar = (dir: string, out: string, entries: string[], epoch: number) =>
  $({ quiet: true, cwd: dir })`tar --sort=name --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime --mtime=@${epoch} --owner=0 --group=0 --numeric-owner -cf ${out} ${entries}`

// The layer: the root's tar, then gzip.
async function layerOf(root: string, epoch: number): Promise<{ tar: Buffer; gz: Buffer }> {
  const file = `${root}.tar`
  await reproducibleTar(root, file, readdirSync(root).sort(), epoch)
  const tar = readFileSync(file)
  rmSync(file)
  return { tar, gz: gzipSync(tar, { level: 9 }) }
}

async function buildArch(opts: ImageOptions, arch: Architecture, layout: string): Promise<BuiltArchImage> {
  const p = opts.product
  const progress = new Progress(`image ${arch.oci}`)
  const tree = opts.proxyTree(arch.name)
  const report: BuildReport = JSON.parse(readFileSync(path.join(tree, 'build-report.json'), 'utf8'))
  const debs = await progress.step(`base packages (${p.image.base.packages.join(', ')}, Debian ${p.image.base.suite})`, () =>
    downloadDebianBinaries(p.image.base.packages, arch.deb, p.image.base.suite, opts.cacheDir))
  const root = path.join(opts.workDir, arch.oci, 'root')
  rmSync(root, { recursive: true, force: true })
  mkdirSync(root, { recursive: true })
  const base = await progress.step('root filesystem', () => assembleRoot(opts, arch, root, report, debs))
  const { tar, gz } = await progress.step('layer', () => layerOf(root, opts.sourceDateEpoch))
  const layerBlob = writeBlob(layout, MEDIA.layer, gz)
  const labels = annotations(p, report, opts)
  const created = new Date(opts.sourceDateEpoch * 1000).toISOString()
  const config = {
    created,
    architecture: arch.oci,
    os: 'linux',
    config: {
      User: `${p.image.uid}:${p.image.gid}`,
      Env: [
        `PATH=${p.paths.prefix}/bin:${p.paths.embedded}/bin:/bin`,
        `OPENSSL_CONF=${p.paths.embedded}/ssl/openssl.cnf`,
        'DD_FIPS_LOCAL_ADDRESS=127.0.0.1',
        `DD_FIPS_PORT_RANGE_START=${p.ports.rangeStart}`,
      ],
      Entrypoint: [entrypointPath(p)],
      WorkingDir: '/',
      ExposedPorts: Object.fromEntries(p.ports.services.map((s) => [`${s.port}/tcp`, {}])),
      Labels: labels,
    },
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
    history: [{ created, created_by: `make image (${p.name} ${p.version}, ${opts.revision})` }],
  }
  const configBlob = writeBlob(layout, MEDIA.config, json(config))
  const manifest = { schemaVersion: 2, mediaType: MEDIA.manifest, config: configBlob, layers: [layerBlob], annotations: labels }
  const manifestBlob = writeBlob(layout, MEDIA.manifest, json(manifest))
  rmSync(path.join(opts.workDir, arch.oci), { recursive: true, force: true })
  return {
    arch: arch.name,
    platform: { os: 'linux', architecture: arch.oci },
    manifest: manifestBlob,
    config: configBlob,
    layer: { ...layerBlob, diffId: `sha256:${sha256(tar)}`, uncompressedSize: tar.length },
    base,
    report,
  }
}

export async function buildImage(opts: ImageOptions): Promise<BuiltImage> {
  const p = opts.product
  const layout = imageLayoutDir(opts.outDir)
  rmSync(layout, { recursive: true, force: true })
  mkdirSync(layout, { recursive: true })
  const images: BuiltArchImage[] = []
  for (const arch of p.architectures) images.push(await buildArch(opts, arch, layout))
  const report = images[0].report
  const index = writeBlob(layout, MEDIA.index, json({
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: images.map((i) => ({ ...i.manifest, platform: i.platform })),
    annotations: annotations(p, report, opts),
  }))
  writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  writeFileSync(path.join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.index,
    // podman load names the image by this annotation as a whole reference: a bare version would
    // become the repository (localhost/1.1.0:latest). The OCI grammar of ref.name allows name:tag.
    manifests: [{ ...index, annotations: { 'org.opencontainers.image.ref.name': imageName(p) } }],
  }))
  // docker load reads manifest.json, not the OCI index.
  writeFileSync(path.join(layout, 'manifest.json'), JSON.stringify(images.map((i) => ({
    Config: `blobs/sha256/${i.config.digest.slice(7)}`,
    RepoTags: dockerLoadTags(p, architecture(p, i.arch)),
    Layers: [`blobs/sha256/${i.layer.digest.slice(7)}`],
  }))))
  const archive = imageArchive(p, opts.outDir)
  const files = ['blobs', 'index.json', 'manifest.json', 'oci-layout']
  await reproducibleTar(layout, archive, files, opts.sourceDateEpoch)
  const built: BuiltImage = { index, images, archive }
  writeFileSync(path.join(opts.outDir, `${p.image.name}-${p.version}.image-components.json`), `${JSON.stringify(componentList(p, report, built), null, 2)}\n`)
  writeFileSync(imageSbomFile(p, opts.outDir), imageSbomJson({
    product: p,
    sources: loadSources().sources,
    sourceDateEpoch: opts.sourceDateEpoch,
    images: images.map((i) => {
      const arch = architecture(p, i.arch)
      return { ref: `${imageName(p)}@${i.platform.os}/${i.platform.architecture}`, manifestSha256: i.manifest.digest.slice(7), debArch: arch.deb, suite: p.image.base.suite, report: i.report, tree: opts.proxyTree(i.arch), base: i.base }
    }),
  }))
  return built
}

// What the image is made of, beside it: per architecture the digests and sizes, the proxy's
// components, and each base package with its version, the sha256 of its .deb and the files taken.
function componentList(p: Product, report: BuildReport, image: BuiltImage): unknown {
  return {
    image: p.image.name,
    version: p.version,
    index_digest: image.index.digest,
    user: `${p.user} (${p.image.uid}:${p.image.gid})`,
    fips_provider: report.fips_provider,
    architectures: image.images.map((i) => ({
      platform: `${i.platform.os}/${i.platform.architecture}`,
      manifest_digest: i.manifest.digest,
      layer: { digest: i.layer.digest, compressed_bytes: i.layer.size, uncompressed_bytes: i.layer.uncompressedSize },
      proxy_components: i.report.components,
      base_packages: i.base,
    })),
  }
}
