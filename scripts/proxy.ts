#!/usr/bin/env tsx
// make proxy: build (or take from the cache) the HAProxy + OpenSSL FIPS tree per architecture.
//   ARCHS="x86_64 aarch64"          architectures to build (default: all in product.yaml)
//   FIPS_PROVIDER_SOURCE=<id>       source of fips.so (default: fips_provider.source in sources.yaml);
//                                   another than the library's: the default tree with only fips.so
//                                   compiled from it
//   RELEASE=1                       the release gate (scripts/lib/release-gate.ts): refuse a FIPS
//                                   provider that is not a validated one, and every other shortcut
//   DD_FIPS_CACHE_DIR=<dir>         build and source cache (default: ~/.cache/datadog-fips-proxy)
//   PROXY_OUT_DIR=<dir>             where the trees go, one per architecture (default: build/proxy,
//                                   which make packages packs)
import path from 'node:path'
import { buildProxy, planProxyBuild } from './lib/proxy-build.ts'
import { cacheDir } from './lib/paths.ts'
import { loadProduct } from './lib/product.ts'
import { loadSources } from './lib/sources.ts'
import { withLock } from './lib/exec.ts'
import { main } from './lib/main.ts'
import { buildDir } from './lib/paths.ts'
import { enforceReleaseGate } from './lib/release-gate.ts'

await main(async () => {
  const product = loadProduct()
  const sources = loadSources()
  await enforceReleaseGate(product, sources, 'make proxy')
  const archs = process.env.ARCHS?.split(/[\s,]+/).filter(Boolean) ?? product.architectures.map((a) => a.name)
  const plans = archs.map((arch) =>
    planProxyBuild(product, sources, { arch, providerSource: process.env.FIPS_PROVIDER_SOURCE || undefined }),
  )
  // One build at a time in build/work/ (a make packages started beside a make proxy clobbered it).
  await withLock(path.join(buildDir, 'proxy.lock'), 'another make proxy', async () => {
    for (const plan of plans) {
      const out = process.env.PROXY_OUT_DIR ? path.resolve(process.env.PROXY_OUT_DIR, plan.arch.name) : undefined
      const { outDir, report } = await buildProxy(plan, cacheDir(), out)
      console.log(
        `${plan.arch.name}: ${outDir} (haproxy ${report.components.haproxy.version}, openssl ${report.components.openssl.version}, ` +
          `fips provider ${report.fips_provider.version} ${report.fips_provider.validated ? 'validated' : 'NOT validated'}, glibc floor ${report.glibc.measured_floor})`,
      )
    }
  })
})
