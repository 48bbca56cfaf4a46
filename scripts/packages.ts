#!/usr/bin/env tsx
// make packages: .deb, RHEL .rpm and SUSE .rpm per architecture into dist/, from the proxy trees
// that `make proxy` built. SOURCE_DATE_EPOCH (default: the last commit's time) fixes every timestamp.
import { buildPackages, readReport, sourceDateEpoch, summaryTable, writeIndex } from './lib/packages.ts'
import { main } from './lib/main.ts'
import { distDir } from './lib/paths.ts'
import { loadProduct } from './lib/product.ts'
import { proxyOutDir } from './lib/proxy-build.ts'

await main(async () => {
  const product = loadProduct()
  const packages = await buildPackages({ product, outDir: distDir, sourceDateEpoch: await sourceDateEpoch() })
  const reports = Object.fromEntries(product.architectures.map((a) => [a.name, readReport(proxyOutDir(a.name))]))
  writeIndex(distDir, product, packages, reports)
  console.log(`\n${summaryTable(packages)}\n\n${packages.length} packages, SHA256SUMS and manifest.json in ${distDir}`)
})
