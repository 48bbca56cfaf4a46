#!/usr/bin/env tsx
// make packages: .deb, RHEL .rpm and SUSE .rpm per architecture into dist/, from the proxy trees
// that `make proxy` built, and the install scripts. SOURCE_DATE_EPOCH (default: the last commit's
// time) fixes every timestamp; DD_REPO_URL sets the repository the install scripts default to.
import { writeInstallers } from './lib/installer.ts'
import { main } from './lib/main.ts'
import { buildPackages, sourceDateEpoch, summaryTable } from './lib/packages.ts'
import { distDir } from './lib/paths.ts'
import { loadProduct } from './lib/product.ts'
import { signingKey } from './lib/signing.ts'

await main(async () => {
  const product = loadProduct()
  const release = process.env.RELEASE === '1'
  const packages = await buildPackages({ product, outDir: distDir, sourceDateEpoch: await sourceDateEpoch() })
  const key = await signingKey({ release })
  const installers = writeInstallers(product, { repoUrl: process.env.DD_REPO_URL || product.repository.url, keyFingerprints: [key.fingerprint] }, distDir)
  console.log(`\n${summaryTable(packages)}\n`)
  console.log(`${packages.length} packages, SHA256SUMS and manifest.json in ${distDir}`)
  console.log(`install scripts: ${installers.map((f) => f.replace(`${distDir}/`, '')).join(', ')} (trusting key ${key.fingerprint}${key.throwaway ? ', a throwaway test key' : ''})`)
})
