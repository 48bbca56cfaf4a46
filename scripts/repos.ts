#!/usr/bin/env tsx
// make repos: signed apt, RHEL and SUSE repositories from the packages in dist/, into dist/repos/,
// laid out as the install script expects. The key: DD_SIGNING_KEY_FILE in a release (RELEASE=1
// requires it), else the throwaway key that `make packages` baked into the install script. RELEASE=1
// passes the release gate first (scripts/lib/release-gate.ts).
import path from 'node:path'
import { repositoryAgentMajor } from './lib/installer.ts'
import { main } from './lib/main.ts'
import { Progress } from './lib/exec.ts'
import { buildDir, distDir } from './lib/paths.ts'
import { loadProduct } from './lib/product.ts'
import { buildRepos } from './lib/repo.ts'
import { signingKey, withSigningAgent } from './lib/signing.ts'
import { readManifest } from './lib/packages.ts'
import { enforceReleaseGate } from './lib/release-gate.ts'
import { loadSources } from './lib/sources.ts'

await main(() => withSigningAgent(async () => {
  const product = loadProduct()
  await enforceReleaseGate(product, loadSources(), 'make repos')
  const manifest = readManifest(distDir)
  const files = (format: string) => manifest.packages.filter((p) => p.format === format).map((p) => path.join(distDir, p.file))
  const key = await signingKey({ release: process.env.RELEASE === '1' })
  const agentMajor = repositoryAgentMajor()
  const result = await new Progress('repos').step(`agent ${agentMajor}: apt, rpm, suse`, () =>
    buildRepos({
      product, key, agentMajor,
      outDir: path.join(distDir, 'repos'),
      debs: files('deb'),
      rpms: { rhel: files('rpm-rhel'), suse: files('rpm-suse') },
      log: path.join(buildDir, 'logs', 'repos.log'),
    }))
  console.log(`apt: ${result.apt}\nrpm: ${result.rpm.rhel.join(' ')}\nsuse: ${result.rpm.suse.join(' ')}\nkey: ${result.keyFile} (${key.fingerprint}${key.throwaway ? ', throwaway test key' : ''})`)
}))
