// The release's software bill of materials: CycloneDX 1.5 JSON (what scanners such as Dependency-
// Track, Grype and Trivy read), written by the CycloneDX project's own library. One BOM for the
// release: each package file with its sha256, and inside each the components it ships (HAProxy, the
// OpenSSL libraries, the FIPS provider with its version and whether it is a validated one) with
// versions, licenses and the sha256 of their source tarballs, plus the Zig toolchain that built them
// (scope "excluded": it built the files, it is not in the package). Reproducible: the timestamp is
// SOURCE_DATE_EPOCH and the serial number is derived from the content.
import * as CDX from '@cyclonedx/cyclonedx-library'
import { PackageURL } from 'packageurl-js'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { BuildReport } from './proxy-build.ts'
import type { Product } from './product.ts'
import type { SourceSpec } from './sources.ts'

export const SBOM_SPEC = CDX.Spec.Spec1dot5

export interface SbomPackage {
  file: string
  sha256: string
  format: string
  version: string
  arch: string
  // The build the package was made from, and its tree (for the hash of the FIPS module shipped).
  report: BuildReport
  tree: string
}

export interface SbomInput {
  product: Product
  packages: SbomPackage[]
  sources: Record<string, SourceSpec>
  sourceDateEpoch: number
}

const { ComponentType, ComponentScope, ExternalReferenceType } = CDX.Enums
const SHA256 = CDX.Enums.HashAlgorithm['SHA-256']

const hashes = (sha256: string) => new CDX.Models.HashDictionary([[SHA256, sha256]])
const licenses = (expression: string) => new CDX.Models.LicenseRepository([new CDX.Models.LicenseExpression(expression)])
const property = (name: string, value: string) => new CDX.Models.Property(name, value)

// A component built from a pinned source: its version, license, and the tarball it came from.
function fromSource(ref: string, name: string, spec: SourceSpec, extra: { description?: string; sha256?: string; properties?: CDX.Models.Property[] } = {}): CDX.Models.Component {
  return new CDX.Models.Component(ComponentType.Library, name, {
    bomRef: ref,
    version: spec.version,
    description: extra.description,
    licenses: licenses(spec.license),
    hashes: extra.sha256 ? hashes(extra.sha256) : undefined,
    externalReferences: new CDX.Models.ExternalReferenceRepository([
      // "distribution": CycloneDX 1.5 has no "source-distribution" (1.6 does); the comment says which.
      new CDX.Models.ExternalReference(spec.urls[0], ExternalReferenceType.Distribution, { hashes: hashes(spec.sha256), comment: `upstream source tarball ${spec.file}` }),
    ]),
    properties: new CDX.Models.PropertyRepository(extra.properties ?? []),
  })
}

// What a proxy tree holds (HAProxy, the OpenSSL libraries, the FIPS provider with the sha256 of the
// module in `tree`) and the toolchain that built it, as components of `parent` (a package or an
// image's architecture).
function proxyComponents(sources: Record<string, SourceSpec>, product: Product, report: BuildReport, tree: string, parent: string): CDX.Models.Component[] {
  const source = (id: string) => {
    const spec = sources[id]
    if (!spec) throw new Error(`SBOM: the build of ${parent} names source '${id}', which packaging/sources.yaml does not pin`)
    return spec
  }
  const fipsModule = path.join(tree, product.paths.embedded, 'lib', 'ossl-modules', 'fips.so')
  const ref = (part: string) => `${parent}#${part}`
  return [
    fromSource(ref('haproxy'), 'haproxy', source('haproxy'), { description: 'HAProxy, the relay (sbin/haproxy)' }),
    fromSource(ref('openssl'), 'openssl', source('openssl'), { description: 'OpenSSL libssl and libcrypto, and the openssl command (fipsinstall)' }),
    fromSource(ref('fips-provider'), 'openssl-fips-provider', source(report.fips_provider.source), {
      description: `The OpenSSL FIPS provider (lib/ossl-modules/fips.so), built from OpenSSL ${report.fips_provider.version}`,
      sha256: createHash('sha256').update(readFileSync(fipsModule)).digest('hex'),
      properties: [
        property('fips:provider-version', report.fips_provider.version),
        property('fips:validated', String(report.fips_provider.validated)),
        property('fips:statement', report.fips_provider.statement),
      ],
    }),
    new CDX.Models.Component(ComponentType.Application, report.toolchain.name, {
      bomRef: ref('toolchain'),
      version: report.toolchain.version,
      scope: ComponentScope.Excluded,
      description: `The compiler of every ELF file in ${parent} (${report.compiler}), from the npm package ${report.toolchain.package}`,
      licenses: licenses(report.toolchain.license),
    }),
  ]
}

function packageComponent(input: SbomInput, pkg: SbomPackage): CDX.Models.Component {
  return new CDX.Models.Component(ComponentType.File, pkg.file, {
    bomRef: pkg.file,
    version: pkg.version,
    hashes: hashes(pkg.sha256),
    licenses: licenses(input.product.license),
    properties: new CDX.Models.PropertyRepository([property('package:format', pkg.format), property('package:arch', pkg.arch)]),
    components: new CDX.Models.ComponentRepository(proxyComponents(input.sources, input.product, pkg.report, pkg.tree, pkg.file)),
  })
}

// The BOM of `product` with these components, serialized: reproducible (the timestamp is
// SOURCE_DATE_EPOCH, the serial number names the content: the same input gives the same bytes).
function serialize(product: Product, sourceDateEpoch: number, type: CDX.Enums.ComponentType, components: CDX.Models.Component[]): string {
  const bom = new CDX.Models.Bom()
  bom.metadata.timestamp = new Date(sourceDateEpoch * 1000)
  bom.metadata.component = new CDX.Models.Component(type, product.name, {
    bomRef: product.name,
    version: product.version,
    description: product.summary,
    licenses: licenses(product.license),
    supplier: new CDX.Models.OrganizationalEntity({ name: product.vendor }),
  })
  for (const c of components) bom.components.add(c)
  const serializer = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(SBOM_SPEC))
  const content = serializer.serialize(bom, { sortLists: true, space: 2 })
  const digest = createHash('sha256').update(content).digest('hex')
  bom.serialNumber = `urn:uuid:${digest.slice(0, 8)}-${digest.slice(8, 12)}-5${digest.slice(13, 16)}-8${digest.slice(17, 20)}-${digest.slice(20, 32)}`
  return `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`
}

export function sbomJson(input: SbomInput): string {
  return serialize(input.product, input.sourceDateEpoch, ComponentType.Application, input.packages.map((pkg) => packageComponent(input, pkg)))
}

// One architecture of the container image: its manifest digest, what the proxy tree put in it, and
// each Debian base package it takes files from, with its version and the sha256 of its .deb.
export interface SbomImageArch {
  // the image's reference in the BOM, e.g. datadog-fips-proxy:1.1.0@linux/amd64
  ref: string
  manifestSha256: string
  debArch: string
  suite: string
  report: BuildReport
  tree: string
  base: { package: string; version: string; sha256: string; files: string[] }[]
}

export interface ImageSbomInput {
  product: Product
  images: SbomImageArch[]
  sources: Record<string, SourceSpec>
  sourceDateEpoch: number
}

function debianPackage(arch: SbomImageArch, deb: SbomImageArch['base'][number]): CDX.Models.Component {
  return new CDX.Models.Component(ComponentType.Library, deb.package, {
    bomRef: `${arch.ref}#deb:${deb.package}`,
    version: deb.version,
    // sha256 of the .deb the files were taken from (checked against Debian's signed index).
    hashes: hashes(deb.sha256),
    purl: new PackageURL('deb', 'debian', deb.package, deb.version, { arch: arch.debArch, distro: `debian-${arch.suite}` }, undefined).toString(),
    description: `Debian ${arch.suite} package; the image holds only ${deb.files.length} of its files`,
    properties: new CDX.Models.PropertyRepository(deb.files.map((f) => property('image:file', f))),
  })
}

// The container image's BOM: one component per architecture, each with the proxy's components and
// the Debian base packages its root filesystem takes files from.
export function imageSbomJson(input: ImageSbomInput): string {
  return serialize(input.product, input.sourceDateEpoch, ComponentType.Container, input.images.map((arch) =>
    new CDX.Models.Component(ComponentType.Container, arch.ref, {
      bomRef: arch.ref,
      version: input.product.version,
      hashes: hashes(arch.manifestSha256),
      licenses: licenses(input.product.license),
      description: 'the image manifest (its sha256 is the manifest digest)',
      components: new CDX.Models.ComponentRepository([
        ...proxyComponents(input.sources, input.product, arch.report, arch.tree, arch.ref),
        ...arch.base.map((deb) => debianPackage(arch, deb)),
      ]),
    })))
}

// null if the JSON is a valid CycloneDX 1.5 document (the specification's published JSON schema,
// strict: no property the schema does not define), else what is wrong.
export async function validateSbom(json: string): Promise<null | unknown> {
  return new CDX.Validation.JsonStrictValidator(SBOM_SPEC.version).validate(json)
}
