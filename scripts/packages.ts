#!/usr/bin/env tsx
// make packages: .deb, RHEL .rpm and SUSE .rpm per architecture into dist/, from the proxy trees
// that `make proxy` built, with SHA256SUMS (and its detached signature), the manifest and the SBOM,
// and the install scripts. SOURCE_DATE_EPOCH (default: the last commit's time) fixes every
// timestamp; DD_REPO_URL sets the repository the install scripts default to; RELEASE=1 passes the
// release gate first (scripts/lib/release-gate.ts).
import path from 'node:path'
import { writeInstallers } from './lib/installer.ts'
import { main } from './lib/main.ts'
import { buildPackages, sourceDateEpoch, summaryTable } from './lib/packages.ts'
import { buildDir, distDir } from './lib/paths.ts'
import { loadProduct } from './lib/product.ts'
import { enforceReleaseGate } from './lib/release-gate.ts'
import { sign, signingKey, withSigningAgent } from './lib/signing.ts'
import { loadSources } from './lib/sources.ts'

await main(() => withSigningAgent(async () => {
  const product = loadProduct()
  const release = process.env.RELEASE === '1'
  await enforceReleaseGate(product, loadSources(), 'make packages')
  const key = await signingKey({ release })
  const packages = await buildPackages({ product, outDir: distDir, sourceDateEpoch: await sourceDateEpoch() })
  await sign(path.join(distDir, 'SHA256SUMS'), key, path.join(buildDir, 'logs', 'packages-sign.log'))
  const installers = writeInstallers(product, { repoUrl: process.env.DD_REPO_URL || product.repository.url, keyFingerprints: [key.fingerprint] }, distDir)
  console.log(`\n${summaryTable(packages)}\n`)
  console.log(`${packages.length} packages, SHA256SUMS (signed: SHA256SUMS.asc), manifest.json and sbom.cdx.json in ${distDir}`)
  console.log(`install scripts: ${installers.map((f) => f.replace(`${distDir}/`, '')).join(', ')} (trusting key ${key.fingerprint}${key.throwaway ? ', a throwaway test key' : ''})`)
}))
